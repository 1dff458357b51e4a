"""SBT-AWS's event vocabulary, as this pipeline speaks it when it serves as SBT's application plane.

SBT's control plane asks (onboarding, offboarding, activate, deactivate); the application plane answers
(provision, deprovision, activate, deactivate; each a success or a failure). SBT v0.9 (awslabs/sbt-aws PR #178)
prefixed every detail-type with ``sbt_aws_``; earlier versions use the bare names. Both are spoken here.

SBT flattens whatever the provider registered (the tenant's data and its registration data) into a request's
detail, so the fields this pipeline uses are validated and every other one is ignored. An answer echoes the
registration (``tenantRegistrationId``) and carries ``jobOutput: {tenantData, tenantRegistrationData}``, which
SBT's registration service applies to the registration and the tenant, as it does for its own script jobs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import ConfigDict, Field, JsonValue

from onboarding.base import CamelModel
from onboarding.contract.common import SIGNUP_ID_PATTERN, FieldError, WireStr

V09_PREFIX = "sbt_aws_"


class SbtVocabulary(StrEnum):
    """Which of SBT's names an event uses: v0.9's (``sbt_aws_onboardingRequest``) or the earlier ones."""

    V09 = "v09"
    LEGACY = "legacy"


class SbtAccepted(StrEnum):
    """Which vocabularies the pipeline accepts (template parameter ``SbtVocabulary``)."""

    BOTH = "both"
    V09 = "v09"
    LEGACY = "legacy"

    def accepts(self, vocabulary: SbtVocabulary) -> bool:
        return self is SbtAccepted.BOTH or self.value == vocabulary.value


class SbtAction(StrEnum):
    """What SBT's control plane asks for; mapped onto signup, offboard, resume and suspend."""

    ONBOARDING = "onboarding"
    OFFBOARDING = "offboarding"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"


_REQUEST = {
    SbtAction.ONBOARDING: "onboardingRequest",
    SbtAction.OFFBOARDING: "offboardingRequest",
    SbtAction.ACTIVATE: "activateRequest",
    SbtAction.DEACTIVATE: "deactivateRequest",
}
_ANSWER = {
    SbtAction.ONBOARDING: "provision",
    SbtAction.OFFBOARDING: "deprovision",
    SbtAction.ACTIVATE: "activate",
    SbtAction.DEACTIVATE: "deactivate",
}
# What SBT's own script jobs put in a failed job's output (tenantStatus), per action.
FAILURE_STATUS = {
    SbtAction.ONBOARDING: "Failed to provision tenant.",
    SbtAction.OFFBOARDING: "Failed to deprovision tenant.",
    SbtAction.ACTIVATE: "Failed to activate tenant.",
    SbtAction.DEACTIVATE: "Failed to deactivate tenant.",
}
# The registrationStatus an answer writes on SBT's tenant registration.
REGISTRATION_STATUS = {
    (SbtAction.ONBOARDING, True): "provisioned",
    (SbtAction.ONBOARDING, False): "provisionFailed",
    (SbtAction.OFFBOARDING, True): "deprovisioned",
    (SbtAction.OFFBOARDING, False): "deprovisionFailed",
    (SbtAction.ACTIVATE, True): "activated",
    (SbtAction.ACTIVATE, False): "activateFailed",
    (SbtAction.DEACTIVATE, True): "deactivated",
    (SbtAction.DEACTIVATE, False): "deactivateFailed",
}


def _named(base: str, vocabulary: SbtVocabulary) -> str:
    return V09_PREFIX + base if vocabulary is SbtVocabulary.V09 else base


def request_detail_type(action: SbtAction, vocabulary: SbtVocabulary) -> str:
    """``sbt_aws_onboardingRequest`` (v0.9) or ``onboardingRequest`` (earlier)."""
    return _named(_REQUEST[action], vocabulary)


def answer_detail_type(action: SbtAction, vocabulary: SbtVocabulary, success: bool) -> str:
    """``sbt_aws_provisionSuccess`` (v0.9) or ``provisionFailure`` (earlier), and so on per action."""
    return _named(_ANSWER[action] + ("Success" if success else "Failure"), vocabulary)


SBT_REQUESTS: dict[str, tuple[SbtVocabulary, SbtAction]] = {
    request_detail_type(action, vocabulary): (vocabulary, action)
    for vocabulary in SbtVocabulary
    for action in SbtAction
}
SBT_ANSWERS: frozenset[str] = frozenset(
    answer_detail_type(action, vocabulary, success)
    for vocabulary in SbtVocabulary
    for action in SbtAction
    for success in (True, False)
)
# Our signup's wire names as SBT names them, so a rejection speaks of the fields SBT sent.
SBT_FIELD_NAMES = {"signupId": "tenantId", "adminEmail": "email"}


class SbtModel(CamelModel):
    """camelCase on the wire; fields SBT carries that this pipeline does not use are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_by_name=True, validate_by_alias=True)

    @classmethod
    def from_wire(cls, detail: Any) -> Self:
        return cls.model_validate(detail, by_alias=True, by_name=False)


class SbtRequest(SbtModel):
    """What every SBT request carries: SBT's tenant, and the registration when SBT's registration service sent it
    (v0.9 onboarding and offboarding; SBT's deactivate carries the tenantId alone)."""

    tenant_id: WireStr = Field(
        pattern=SIGNUP_ID_PATTERN, description="SBT's tenant id: the signupId (idempotency key) of our tenant."
    )
    tenant_registration_id: WireStr | None = Field(default=None, pattern=SIGNUP_ID_PATTERN)


class SbtOnboardingRequest(SbtRequest):
    """Detail of ``sbt_aws_onboardingRequest`` / ``onboardingRequest``: the signup fields are passed on as they
    came and validated as our signup's (``Tenant Signup Requested``), so a bad one is named in the answer."""

    tenant_name: JsonValue = None
    email: JsonValue = None
    tier: JsonValue = None
    deployment_model: JsonValue = None
    aws_account_id: JsonValue = None
    region: JsonValue = None
    hybrid: JsonValue = None

    def signup_detail(self) -> dict[str, Any]:
        """Our ``Tenant Signup Requested`` detail: SBT's tenantId is the signupId, its email the adminEmail."""
        detail = {
            "signupId": self.tenant_id,
            "tenantName": self.tenant_name,
            "adminEmail": self.email,
            "tier": self.tier,
            "deploymentModel": self.deployment_model,
            "awsAccountId": self.aws_account_id,
            "region": self.region,
            "hybrid": self.hybrid,
        }
        return {key: value for key, value in detail.items() if value is not None}


class SbtJobOutput(SbtModel):
    """What SBT's registration service applies: ``tenantRegistrationData`` to the registration, ``tenantData`` to
    the tenant. A failure also carries its ``reason`` and, for a rejected request, each field's ``errors``."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    tenant_data: dict[str, JsonValue]
    tenant_registration_data: dict[str, JsonValue]
    reason: str | None = None
    errors: list[FieldError] | None = None


class SbtAnswer(SbtModel):
    """Detail of every answer (``sbt_aws_provisionSuccess`` ... ``deactivateFailure``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    tenant_registration_id: str | None = Field(default=None, description="Echoed from the request (when known).")
    tenant_id: str | None = Field(default=None, description="SBT's tenant id, as SBT sent it.")
    job_output: SbtJobOutput
