"""This pipeline as SBT-AWS's application plane, on the local stack: SBT's requests in, SBT's answers out.

The failures, on one stack for the module (tests/utils/scoped_stack.py), each test with an SBT tenant of its own:
an invalid request, a failed provisioning, operations the tenant's state refuses, a redelivered request. The round
trips in both vocabularies (`onboarding-local run`, a stack per run) and the v0.9-only configuration are in
test_sbt_runs.py.
"""

from __future__ import annotations

import copy

import pytest

from onboarding.identity import derive_tenant_id
from tests.conftest import signup_event
from tests.utils.sbt import answers, onboarding_request, sample, sbt_request, settle, status
from tests.utils.scoped_stack import ScopedStack

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("sbt")]


@pytest.fixture
def stack(scoped_stack: ScopedStack) -> ScopedStack:
    return scoped_stack


# ------------------------------------------------------------------ failures
def test_an_invalid_onboarding_request_is_answered_with_each_reason_and_creates_nothing(stack: ScopedStack) -> None:
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


def test_a_request_sbt_cannot_have_meant_is_answered_at_once(stack: ScopedStack) -> None:
    settle(stack, sbt_request("onboardingRequest", "controlPlaneEventSource", tenantRegistrationId="r-1", tier="basic"))
    ((detail_type, detail),) = answers(stack.published_events(), "applicationPlaneEventSource")
    assert detail_type == "provisionFailure" and detail["tenantRegistrationId"] == "r-1"
    assert detail["jobOutput"]["errors"] == [{"field": "tenantId", "message": "Field required"}]
    assert stack.tenants() == []


def test_a_failed_provisioning_is_answered_with_its_step_and_reason(stack: ScopedStack) -> None:
    event = onboarding_request("failed")
    # Given: a tenant of ours already holds the name SBT's tenant asks for
    settle(stack, signup_event("native-1", event["detail"]["tenantName"]))
    # When: SBT onboards a tenant with that name
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


def test_operations_the_tenant_state_refuses_are_answered_as_failures(stack: ScopedStack) -> None:
    onboarding = onboarding_request("refused")
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


def test_a_redelivered_onboarding_request_onboards_once_and_answers_once(stack: ScopedStack) -> None:
    event = onboarding_request("redelivered")
    settle(stack, event, copy.deepcopy(event))
    settle(stack, copy.deepcopy(event))
    assert len(stack.tenants()) == 1 and len(stack.executions()) == 1
    assert [t for t, _ in answers(stack.published_events(), "sbt.application.plane")] == ["sbt_aws_provisionSuccess"]
