"""SBT-AWS round trips that need a local stack of their own: `onboarding-local run` of SBT's sample requests (a
stack per run, as a user runs them), and the stack configured with the v0.9 vocabulary only. The other SBT tests
share one stack in test_sbt.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local.cli import run as run_files
from onboarding_local.stack import LocalStack
from tests.utils.sbt import LEGACY, SAMPLES, V09, answers, sample, settle, status

pytestmark = pytest.mark.pipeline


# ------------------------------------------------------------------ round trips, as `onboarding-local run` reports them
@pytest.mark.parametrize(
    ("suffix", "vocabulary"),
    [("", V09), ("-legacy", LEGACY)],
    ids=["v0.9", "legacy"],
)
def test_round_trip_onboard_deactivate_activate_offboard(
    tmp_path: Path, suffix: str, vocabulary: tuple[str, str]
) -> None:
    source, prefix = vocabulary
    files = [
        SAMPLES / f"{name}-request{suffix}.json" for name in ("onboarding", "deactivate", "activate", "offboarding")
    ]
    onboarding = sample(files[0].name)["detail"]
    sbt_tenant, registration = onboarding["tenantId"], onboarding["tenantRegistrationId"]
    tenant_id = derive_tenant_id(sbt_tenant)
    statuses: list[str | None] = []

    # When: SBT onboards, deactivates, activates and offboards a tenant, one request at a time
    report = run_files(files, tmp_path / "wd", 180, after_each=lambda _, s: statuses.append(status(s, tenant_id)))

    # Then: each request did to our tenant what it maps to (signup, suspend, resume, offboard)
    assert statuses == ["ACTIVE", "SUSPENDED", "ACTIVE", "OFFBOARDED"]
    record = next(t for t in report["tenants"] if t["tenantId"] == tenant_id)
    assert record["signupId"] == sbt_tenant and record["tenantName"] == onboarding["tenantName"]
    assert record["adminEmail"] == onboarding["email"] and record["tier"] == onboarding["tier"]

    # and the report lists SBT's answers, one per request, in the vocabulary asked, each echoing the registration
    sent = answers(report["events"], source)
    assert [detail_type for detail_type, _ in sent] == [
        f"{prefix}provisionSuccess",
        f"{prefix}deactivateSuccess",
        f"{prefix}activateSuccess",
        f"{prefix}deprovisionSuccess",
    ]
    for _, detail in sent:
        assert detail["tenantRegistrationId"] == registration and detail["tenantId"] == sbt_tenant
        assert set(detail["jobOutput"]) == {"tenantData", "tenantRegistrationData"}
        assert detail["jobOutput"]["tenantData"]["applicationPlaneTenantId"] == tenant_id
    assert [d["jobOutput"]["tenantData"]["tenantStatus"] for _, d in sent] == statuses
    assert [d["jobOutput"]["tenantRegistrationData"]["registrationStatus"] for _, d in sent] == [
        "provisioned",
        "deactivated",
        "activated",
        "deprovisioned",
    ]
    provisioned = sent[0][1]["jobOutput"]["tenantData"]
    assert provisioned["chartVersion"] == record["chartVersion"] and provisioned["verified"] is True

    # the report's events are every event the pipeline published: ours, the requests put back as ours, SBT's answers
    kinds = [(e["source"], e["detail-type"]) for e in report["events"]]
    assert ("saas.signup", "Tenant Signup Requested") in kinds and ("saas.onboarding", "Tenant Onboarded") in kinds
    assert not any(e["source"].startswith(("sbt.control", "controlPlane")) for e in report["events"])  # inputs


def test_with_the_v09_vocabulary_configured_the_legacy_names_reach_nothing(tmp_path: Path) -> None:
    with LocalStack(tmp_path / "stack", parameters={"SbtVocabulary": "v09"}) as stack:
        settle(stack, sample("onboarding-request-legacy.json"))
        assert stack.tenants() == [] and stack.published_events() == []
        settle(stack, sample("onboarding-request.json"))
        assert [t for t, _ in answers(stack.published_events(), "sbt.application.plane")] == [
            "sbt_aws_provisionSuccess"
        ]
