"""This pipeline as SBT-AWS's application plane, on the local stack: SBT's requests in, SBT's answers out.

Round trips in both vocabularies (v0.9's ``sbt_aws_`` names from ``sbt.control.plane``, the earlier names from
``controlPlaneEventSource``), through the real intakes and state machines, with the answers as the local report
lists them; then the failures: an invalid request, a failed provisioning, operations the tenant's state refuses.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local.cli import run as run_files
from onboarding_local.stack import LocalStack
from tests.conftest import signup_event

pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "events" / "sbt"
V09 = ("sbt.application.plane", "sbt_aws_")
LEGACY = ("applicationPlaneEventSource", "")


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return event


def answers(events: list[dict[str, Any]], source: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e["detail-type"], e["detail"]) for e in events if e["source"] == source]


def settle(stack: LocalStack, *events: dict[str, Any]) -> None:
    stack.put_events(list(events))
    stack.wait_idle(180)


def status(stack: LocalStack, tenant_id: str) -> str | None:
    record = stack.tenant(tenant_id)
    return None if record is None else str(record["status"])


def sbt_request(detail_type: str, source: str, **detail: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "detail-type": detail_type, "source": source, "detail": detail}


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


# ------------------------------------------------------------------ failures
def test_an_invalid_onboarding_request_is_answered_with_each_reason_and_creates_nothing(stack: LocalStack) -> None:
    event = sample("onboarding-request-invalid.json")
    settle(stack, event)
    assert stack.tenants() == [] and stack.executions() == []
    ((detail_type, detail),) = answers(stack.published_events(), "sbt.application.plane")
    assert detail_type == "sbt_aws_provisionFailure"
    assert detail["tenantRegistrationId"] == event["detail"]["tenantRegistrationId"]
    output = detail["jobOutput"]
    assert [e["field"] for e in output["errors"]] == ["email", "tier"]  # SBT's names, not adminEmail
    assert output["tenantData"] == {"tenantStatus": "Failed to provision tenant."}
    assert output["tenantRegistrationData"]["registrationStatus"] == "provisionFailed"
    assert output["reason"].startswith("email: value is not a valid email address")


def test_a_request_sbt_cannot_have_meant_is_answered_at_once(stack: LocalStack) -> None:
    settle(stack, sbt_request("onboardingRequest", "controlPlaneEventSource", tenantRegistrationId="r-1", tier="basic"))
    ((detail_type, detail),) = answers(stack.published_events(), "applicationPlaneEventSource")
    assert detail_type == "provisionFailure" and detail["tenantRegistrationId"] == "r-1"
    assert detail["jobOutput"]["errors"] == [{"field": "tenantId", "message": "Field required"}]
    assert stack.tenants() == []


def test_a_failed_provisioning_is_answered_with_its_step_and_reason(stack: LocalStack) -> None:
    # Given: a tenant of ours already holds the name SBT's tenant asks for
    settle(stack, signup_event("native-1", "Globex"))
    # When: SBT onboards a tenant with that name
    event = sample("onboarding-request.json")
    settle(stack, event)
    # Then: our onboarding failed at RegisterTenant, and SBT is told so, with the reason
    tenant_id = derive_tenant_id(event["detail"]["tenantId"])
    assert status(stack, tenant_id) == "FAILED"
    ((detail_type, detail),) = answers(stack.published_events(), "sbt.application.plane")
    assert detail_type == "sbt_aws_provisionFailure"
    output = detail["jobOutput"]
    assert output["tenantRegistrationData"]["failedStep"] == "RegisterTenant"
    assert "already taken" in output["reason"] and output["reason"] == output["tenantRegistrationData"]["failureReason"]
    assert output["tenantData"] == {
        "tenantStatus": "Failed to provision tenant.",
        "applicationPlaneTenantId": tenant_id,
    }
    # and the native tenant's own outcome was not answered to SBT
    assert status(stack, derive_tenant_id("native-1")) == "ACTIVE"


def test_operations_the_tenant_state_refuses_are_answered_as_failures(stack: LocalStack) -> None:
    onboarding = sample("onboarding-request.json")
    settle(stack, onboarding)
    sbt_tenant = onboarding["detail"]["tenantId"]

    # activate an ACTIVE tenant; deactivate (legacy names) and offboard a tenant that does not exist
    settle(stack, sbt_request("sbt_aws_activateRequest", "sbt.control.plane", tenantId=sbt_tenant))
    settle(stack, sbt_request("deactivateRequest", "controlPlaneEventSource", tenantId="no-such-tenant"))
    settle(
        stack,
        sbt_request("offboardingRequest", "controlPlaneEventSource", tenantId="gone", tenantRegistrationId="r-gone"),
    )

    v09 = answers(stack.published_events(), "sbt.application.plane")
    assert [t for t, _ in v09] == ["sbt_aws_provisionSuccess", "sbt_aws_activateFailure"]
    refused = v09[1][1]
    assert refused["tenantRegistrationId"] == onboarding["detail"]["tenantRegistrationId"]  # from the onboarding
    assert refused["jobOutput"]["tenantData"]["tenantStatus"] == "Failed to activate tenant."
    assert refused["jobOutput"]["reason"]
    legacy = answers(stack.published_events(), "applicationPlaneEventSource")
    assert [t for t, _ in legacy] == ["deactivateFailure", "deprovisionFailure"]
    assert "tenantRegistrationId" not in legacy[0][1] and legacy[1][1]["tenantRegistrationId"] == "r-gone"
    assert all(d["jobOutput"]["reason"] for _, d in legacy)
    assert status(stack, derive_tenant_id(sbt_tenant)) == "ACTIVE"  # nothing changed


def test_a_redelivered_onboarding_request_onboards_once_and_answers_once(stack: LocalStack) -> None:
    event = sample("onboarding-request.json")
    settle(stack, event, copy.deepcopy(event))
    settle(stack, copy.deepcopy(event))
    assert len(stack.tenants()) == 1 and len(stack.executions()) == 1
    assert [t for t, _ in answers(stack.published_events(), "sbt.application.plane")] == ["sbt_aws_provisionSuccess"]


def test_with_the_v09_vocabulary_configured_the_legacy_names_reach_nothing(tmp_path: Path) -> None:
    with LocalStack(tmp_path / "stack", parameters={"SbtVocabulary": "v09"}) as stack:
        settle(stack, sample("onboarding-request-legacy.json"))
        assert stack.tenants() == [] and stack.published_events() == []
        settle(stack, sample("onboarding-request.json"))
        assert [t for t, _ in answers(stack.published_events(), "sbt.application.plane")] == [
            "sbt_aws_provisionSuccess"
        ]
