"""SBT-AWS's vocabulary and its mapping onto ours: requests forwarded as our own, outcomes answered in SBT's names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from onboarding.contract.catalog import OUTBOUND_DETAIL_TYPES
from onboarding.contract.common import ContractModel, DeploymentModel, FieldError, Tier
from onboarding.contract.lifecycle import Operation, OperationRejectedEvent, TenantOffboarded, TenantSuspended
from onboarding.contract.sbt import (
    SBT_ANSWERS,
    SBT_REQUESTS,
    SbtAccepted,
    SbtAction,
    SbtOnboardingRequest,
    SbtRequest,
    SbtVocabulary,
)
from onboarding.contract.signup import OnboardingFailed, SignupRejected, TenantOnboarded
from onboarding.identity import derive_tenant_id
from onboarding.sbt import AnswerSources, SbtLink
from onboarding.steps.sbt_answer import ANSWERED, answer_outcome
from onboarding.steps.sbt_intake import handle_sbt_request
from onboarding_local.template import load_template

REPO = Path(__file__).resolve().parents[2]
SOURCES = AnswerSources("sbt.application.plane", "applicationPlaneEventSource")
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SBT_TENANT = "3f6c2a0e-6b1d-4f0e-9a51-6c1f2b7d8e01"
REGISTRATION = "a1c4e2f0-77d2-4b8e-9c3f-0d5e6f7a8b01"
TENANT = derive_tenant_id(SBT_TENANT)


class FakeSender:
    """The EventSender port: every event put, as (source, detail-type, detail)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def send(self, source: str, detail_type: str, detail: Mapping[str, Any]) -> None:
        self.sent.append((source, detail_type, json.loads(json.dumps(detail))))


class FakeLinks:
    """The SbtLinks port over a dict, storing links as the adapter does (their wire form)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put(self, link: SbtLink) -> None:
        self.items[link.key] = link.model_dump(mode="json", by_alias=True, exclude_none=True)

    def get(self, key: str) -> SbtLink | None:
        item = self.items.get(key)
        return None if item is None else SbtLink.model_validate(item)


def intake(
    detail_type: str, detail: Any, links: FakeLinks, event_id: str = "ev-1", accepted: SbtAccepted = SbtAccepted.BOTH
) -> tuple[dict[str, Any], FakeSender]:
    sender = FakeSender()
    result = handle_sbt_request(
        detail_type,
        event_id,
        detail,
        accepted=accepted,
        links=links,
        sender=sender,
        signup_source="saas.signup",
        sources=SOURCES,
        now=NOW,
    )
    return result.wire(), sender


def answer(outcome: ContractModel, links: FakeLinks) -> FakeSender:
    sender = FakeSender()
    answer_outcome(OUTBOUND_DETAIL_TYPES[type(outcome)], outcome.wire(), links=links, sender=sender, sources=SOURCES)
    return sender


ONBOARDING = {
    "tenantRegistrationId": REGISTRATION,
    "tenantId": SBT_TENANT,
    "tenantName": "Globex",
    "email": "admin@globex.example",
    "tier": "basic",
    "sbtaws_active": True,
    "prices": [{"id": "price-1"}],
}


# ------------------------------------------------------------------ the vocabularies
def test_both_vocabularies_name_every_request_and_answer_as_sbt_does() -> None:
    assert set(SBT_REQUESTS) == {
        "sbt_aws_onboardingRequest",
        "sbt_aws_offboardingRequest",
        "sbt_aws_activateRequest",
        "sbt_aws_deactivateRequest",
        "onboardingRequest",
        "offboardingRequest",
        "activateRequest",
        "deactivateRequest",
    }
    core = {f"{a}{o}" for a in ("provision", "deprovision", "activate", "deactivate") for o in ("Success", "Failure")}
    assert core | {f"sbt_aws_{name}" for name in core} == SBT_ANSWERS


@pytest.mark.parametrize(
    ("accepted", "v09", "legacy"),
    [(SbtAccepted.BOTH, True, True), (SbtAccepted.V09, True, False), (SbtAccepted.LEGACY, False, True)],
)
def test_the_accepted_vocabularies_are_configurable(accepted: SbtAccepted, v09: bool, legacy: bool) -> None:
    assert (accepted.accepts(SbtVocabulary.V09), accepted.accepts(SbtVocabulary.LEGACY)) == (v09, legacy)


def test_the_template_rule_listens_to_exactly_sbt_requests_per_configured_vocabulary() -> None:
    template = load_template(REPO / "template.yaml")
    rule = template["Resources"]["SbtIntakeFunction"]["Properties"]["Events"]["SbtRequested"]["Properties"]
    condition, both, only = rule["Pattern"]["detail-type"]["Fn::If"]
    v09_condition, v09_only, legacy_only = only["Fn::If"]
    assert (condition, v09_condition) == ("SbtAcceptsBoth", "SbtAcceptsV09Only")
    assert set(both) == set(SBT_REQUESTS)
    assert set(v09_only) == {n for n, (v, _) in SBT_REQUESTS.items() if v is SbtVocabulary.V09}
    assert set(legacy_only) == {n for n, (v, _) in SBT_REQUESTS.items() if v is SbtVocabulary.LEGACY}
    parameters = template["Parameters"]
    assert parameters["SbtVocabulary"]["Default"] == "both"
    assert set(parameters["SbtVocabulary"]["AllowedValues"]) == {a.value for a in SbtAccepted}
    assert parameters["SbtControlPlaneSource"]["Default"] == "sbt.control.plane"
    assert parameters["SbtApplicationPlaneSource"]["Default"] == "sbt.application.plane"


@pytest.mark.parametrize("path", sorted((REPO / "events" / "sbt").glob("*.json")), ids=lambda p: p.name)
def test_every_sbt_sample_is_a_request_of_its_vocabulary_from_its_source(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    vocabulary, action = SBT_REQUESTS[event["detail-type"]]
    expected = "sbt.control.plane" if vocabulary is SbtVocabulary.V09 else "controlPlaneEventSource"
    assert event["source"] == expected
    assert path.stem.endswith("-legacy") == (vocabulary is SbtVocabulary.LEGACY)
    model = SbtOnboardingRequest if action is SbtAction.ONBOARDING else SbtRequest
    model.from_wire(event["detail"])  # SBT's extra fields (sbtaws_active, prices, ...) are ignored


def test_the_samples_cover_every_request_in_both_vocabularies() -> None:
    names = {json.loads(p.read_text())["detail-type"] for p in (REPO / "events" / "sbt").glob("*.json")}
    assert names == set(SBT_REQUESTS)


# ------------------------------------------------------------------ requests become ours
@pytest.mark.parametrize(
    ("detail_type", "vocabulary"),
    [("sbt_aws_onboardingRequest", SbtVocabulary.V09), ("onboardingRequest", SbtVocabulary.LEGACY)],
)
def test_onboarding_becomes_our_signup_keyed_by_sbt_tenant_id(detail_type: str, vocabulary: SbtVocabulary) -> None:
    links = FakeLinks()
    result, sender = intake(detail_type, ONBOARDING, links)
    assert result["outcome"] == "forwarded" and result["tenantId"] == TENANT
    ((source, forwarded_type, detail),) = sender.sent
    assert (source, forwarded_type) == ("saas.signup", "Tenant Signup Requested")
    assert detail == {
        "signupId": SBT_TENANT,
        "tenantName": "Globex",
        "adminEmail": "admin@globex.example",
        "tier": "basic",
    }
    link = links.get(TENANT)
    assert link is not None
    assert (link.sbt_tenant_id, link.tenant_registration_id, link.vocabulary, link.action) == (
        SBT_TENANT,
        REGISTRATION,
        vocabulary,
        SbtAction.ONBOARDING,
    )


def test_onboarding_passes_our_optional_placement_fields_on() -> None:
    detail = {**ONBOARDING, "deploymentModel": "remote", "awsAccountId": "222222222222", "region": "eu-west-1"}
    _, sender = intake("sbt_aws_onboardingRequest", detail, FakeLinks())
    ((_, _, forwarded),) = sender.sent
    assert (forwarded["deploymentModel"], forwarded["awsAccountId"], forwarded["region"]) == (
        "remote",
        "222222222222",
        "eu-west-1",
    )


@pytest.mark.parametrize(
    ("detail_type", "operation_type", "action"),
    [
        ("sbt_aws_offboardingRequest", "Tenant Offboarding Requested", "offboarding"),
        ("sbt_aws_deactivateRequest", "Tenant Suspend Requested", "deactivate"),
        ("sbt_aws_activateRequest", "Tenant Resume Requested", "activate"),
        ("offboardingRequest", "Tenant Offboarding Requested", "offboarding"),
        ("deactivateRequest", "Tenant Suspend Requested", "deactivate"),
        ("activateRequest", "Tenant Resume Requested", "activate"),
    ],
)
def test_lifecycle_requests_become_our_operations(detail_type: str, operation_type: str, action: str) -> None:
    links = FakeLinks()
    result, sender = intake(detail_type, {"tenantId": SBT_TENANT, "tenantRegistrationId": REGISTRATION}, links, "e-9")
    ((source, forwarded_type, detail),) = sender.sent
    assert (source, forwarded_type) == ("saas.signup", operation_type)
    assert detail == {"tenantId": TENANT, "operationId": f"sbt-{action}-e-9"}
    assert result["operationId"] == f"sbt-{action}-e-9"
    link = links.get(detail["operationId"])
    assert link is not None and link.tenant_id == TENANT and link.action.value == action


def test_a_redelivered_request_is_the_same_operation_so_it_starts_no_second_execution() -> None:
    links = FakeLinks()
    _, first = intake("sbt_aws_deactivateRequest", {"tenantId": SBT_TENANT}, links, "same-event")
    _, again = intake("sbt_aws_deactivateRequest", {"tenantId": SBT_TENANT}, links, "same-event")
    assert first.sent == again.sent


def test_a_deactivate_without_registration_echoes_the_one_the_tenant_was_onboarded_with() -> None:
    links = FakeLinks()
    intake("sbt_aws_onboardingRequest", ONBOARDING, links)
    _, sender = intake("sbt_aws_deactivateRequest", {"tenantId": SBT_TENANT}, links, "e-2")
    link = links.get(sender.sent[0][2]["operationId"])
    assert link is not None and link.tenant_registration_id == REGISTRATION


def test_a_vocabulary_not_accepted_is_ignored() -> None:
    links = FakeLinks()
    result, sender = intake("onboardingRequest", ONBOARDING, links, accepted=SbtAccepted.V09)
    assert result["outcome"] == "ignored" and sender.sent == [] and links.items == {}
    result, sender = intake("sbt_aws_onboardingRequest", ONBOARDING, links, accepted=SbtAccepted.LEGACY)
    assert result["outcome"] == "ignored" and sender.sent == []


@pytest.mark.parametrize(
    ("detail_type", "answer_type", "source"),
    [
        ("sbt_aws_onboardingRequest", "sbt_aws_provisionFailure", "sbt.application.plane"),
        ("onboardingRequest", "provisionFailure", "applicationPlaneEventSource"),
        ("sbt_aws_offboardingRequest", "sbt_aws_deprovisionFailure", "sbt.application.plane"),
    ],
)
def test_a_request_without_a_tenant_id_is_answered_at_once_as_a_failure(
    detail_type: str, answer_type: str, source: str
) -> None:
    links = FakeLinks()
    result, sender = intake(detail_type, {"tenantRegistrationId": REGISTRATION, "tenantName": "No Id"}, links)
    assert result["outcome"] == "rejected" and links.items == {}
    ((sent_source, sent_type, detail),) = sender.sent
    assert (sent_source, sent_type) == (source, answer_type)
    assert detail["tenantRegistrationId"] == REGISTRATION and "tenantId" not in detail
    assert detail["jobOutput"]["errors"] == [{"field": "tenantId", "message": "Field required"}]
    assert detail["jobOutput"]["reason"] == "tenantId: Field required"


# ------------------------------------------------------------------ our outcomes become SBT's answers
def onboarded() -> TenantOnboarded:
    return TenantOnboarded(
        tenant_id=TENANT,
        signup_id=SBT_TENANT,
        tier=Tier.BASIC,
        deployment_model=DeploymentModel.POOLED,
        git_commit="abc123",
        chart_version="1.0.0",
        reconciled_at=NOW,
        verified=True,
    )


@pytest.mark.parametrize(
    ("request_type", "answer_type", "source"),
    [
        ("sbt_aws_onboardingRequest", "sbt_aws_provisionSuccess", "sbt.application.plane"),
        ("onboardingRequest", "provisionSuccess", "applicationPlaneEventSource"),
    ],
)
def test_onboarded_is_answered_provision_success_in_the_vocabulary_asked(
    request_type: str, answer_type: str, source: str
) -> None:
    links = FakeLinks()
    intake(request_type, ONBOARDING, links)
    ((sent_source, sent_type, detail),) = answer(onboarded(), links).sent
    assert (sent_source, sent_type) == (source, answer_type)
    assert detail == {
        "tenantRegistrationId": REGISTRATION,
        "tenantId": SBT_TENANT,
        "jobOutput": {
            "tenantData": {
                "tenantStatus": "ACTIVE",
                "applicationPlaneTenantId": TENANT,
                "tier": "basic",
                "deploymentModel": "pooled",
                "chartVersion": "1.0.0",
                "gitCommit": "abc123",
                "verified": True,
            },
            "tenantRegistrationData": {"registrationStatus": "provisioned"},
        },
    }


def test_an_outcome_sbt_did_not_ask_for_is_not_answered() -> None:
    links = FakeLinks()
    assert answer(onboarded(), links).sent == []
    suspended = TenantSuspended(tenant_id=TENANT, operation_id="native-op", git_commit="c", verified=True)
    assert answer(suspended, links).sent == []
    assert answer(SignupRejected(errors=[FieldError(field="signupId", message="Field required")]), links).sent == []


def test_a_failed_onboarding_is_answered_with_its_reason_and_step() -> None:
    links = FakeLinks()
    intake("sbt_aws_onboardingRequest", ONBOARDING, links)
    failed = OnboardingFailed(
        tenant_id=TENANT,
        signup_id=SBT_TENANT,
        failed_step="CommitGitOps",
        error="GitRemoteUnavailable",
        cause="cannot fetch from the GitOps remote",
        compensated=True,
    )
    ((_, sent_type, detail),) = answer(failed, links).sent
    assert sent_type == "sbt_aws_provisionFailure"
    output = detail["jobOutput"]
    assert output["reason"] == "cannot fetch from the GitOps remote"
    assert output["tenantData"] == {"tenantStatus": "Failed to provision tenant.", "applicationPlaneTenantId": TENANT}
    assert output["tenantRegistrationData"] == {
        "registrationStatus": "provisionFailed",
        "failureReason": "cannot fetch from the GitOps remote",
        "failedStep": "CommitGitOps",
    }


def test_a_rejected_signup_is_answered_with_each_field_under_sbt_names() -> None:
    links = FakeLinks()
    intake("onboardingRequest", ONBOARDING, links)
    rejected = SignupRejected(
        signup_id=SBT_TENANT,
        errors=[FieldError(field="adminEmail", message="not an email"), FieldError(field="tier", message="unknown")],
    )
    ((source, sent_type, detail),) = answer(rejected, links).sent
    assert (source, sent_type) == ("applicationPlaneEventSource", "provisionFailure")
    output = detail["jobOutput"]
    assert output["errors"] == [{"field": "email", "message": "not an email"}, {"field": "tier", "message": "unknown"}]
    assert output["reason"] == "email: not an email; tier: unknown"
    assert "applicationPlaneTenantId" not in output["tenantData"]  # no tenant was created


@pytest.mark.parametrize(
    ("request_type", "outcome", "answer_type", "status"),
    [
        (
            "sbt_aws_offboardingRequest",
            lambda op: TenantOffboarded(
                tenant_id=TENANT, operation_id=op, git_commit="c", name_released_at=NOW, verified=True
            ),
            "sbt_aws_deprovisionSuccess",
            "OFFBOARDED",
        ),
        (
            "deactivateRequest",
            lambda op: TenantSuspended(tenant_id=TENANT, operation_id=op, git_commit="c", verified=True),
            "deactivateSuccess",
            "SUSPENDED",
        ),
    ],
)
def test_lifecycle_outcomes_are_answered_for_the_operation_sbt_asked(
    request_type: str, outcome: Any, answer_type: str, status: str
) -> None:
    links = FakeLinks()
    result, _ = intake(request_type, {"tenantId": SBT_TENANT, "tenantRegistrationId": REGISTRATION}, links)
    ((_, sent_type, detail),) = answer(outcome(result["operationId"]), links).sent
    assert sent_type == answer_type and detail["tenantRegistrationId"] == REGISTRATION
    assert detail["jobOutput"]["tenantData"]["tenantStatus"] == status


def test_a_rejected_operation_is_answered_as_its_failure() -> None:
    links = FakeLinks()
    result, _ = intake("sbt_aws_activateRequest", {"tenantId": SBT_TENANT}, links)
    rejected = OperationRejectedEvent(
        tenant_id=TENANT,
        operation_id=result["operationId"],
        operation=Operation.RESUME,
        errors=[FieldError(field="tenantId", message="tenant is ACTIVE, not SUSPENDED")],
    )
    ((_, sent_type, detail),) = answer(rejected, links).sent
    assert sent_type == "sbt_aws_activateFailure"
    assert detail["jobOutput"]["reason"] == "tenantId: tenant is ACTIVE, not SUSPENDED"
    assert detail["jobOutput"]["tenantData"]["tenantStatus"] == "Failed to activate tenant."
    assert "tenantRegistrationId" not in detail  # SBT's activate carried none, and SBT onboarded no tenant here


def test_the_sbt_functions_are_granted_their_table_and_the_bus() -> None:
    resources = load_template(REPO / "template.yaml")["Resources"]
    table = {"TableName": {"Ref": "SbtRegistrationsTable"}}
    bus = {"EventBridgePutEventsPolicy": {"EventBusName": {"Ref": "EventBusName"}}}
    intake_policies = resources["SbtIntakeFunction"]["Properties"]["Policies"]
    answer_policies = resources["SbtAnswerFunction"]["Properties"]["Policies"]
    assert {"DynamoDBCrudPolicy": table} in intake_policies and bus in intake_policies
    assert {"DynamoDBReadPolicy": table} in answer_policies and bus in answer_policies
    answered = resources["SbtAnswerFunction"]["Properties"]["Events"]["OutcomeToAnswer"]["Properties"]["Pattern"]
    assert set(answered["detail-type"]) == {OUTBOUND_DETAIL_TYPES[model] for model in ANSWERED}
    assert answered["source"] == [{"Ref": "StatusEventSource"}]
