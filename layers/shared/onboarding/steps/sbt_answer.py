"""SbtAnswer: an outcome of ours, for a request SBT made, answered in SBT's vocabulary.

Tenant Onboarded -> provisionSuccess; Tenant Onboarding Failed and Tenant Signup Rejected -> provisionFailure;
Tenant Offboarded, Tenant Suspended and Tenant Resumed -> deprovisionSuccess, deactivateSuccess and
activateSuccess; Tenant Operation Failed and Tenant Operation Rejected -> the operation's failure. The answer uses
the names of the vocabulary SBT asked in (``sbt_aws_`` names for v0.9) and echoes its tenantRegistrationId.
Outcomes of requests SBT did not make (no link) get no answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onboarding.contract.common import ContractModel
from onboarding.contract.lifecycle import (
    OperationFailed,
    OperationRejectedEvent,
    TenantOffboarded,
    TenantResumed,
    TenantSuspended,
)
from onboarding.contract.signup import OnboardingFailed, SignupRejected, TenantOnboarded
from onboarding.identity import derive_tenant_id
from onboarding.observability import logger
from onboarding.records import TenantStatus
from onboarding.sbt import Answer, AnswerSources, EventSender, SbtLinks, link_failure, reason_of, sbt_errors, success

ANSWERED = (
    TenantOnboarded,
    OnboardingFailed,
    SignupRejected,
    TenantOffboarded,
    TenantSuspended,
    TenantResumed,
    OperationFailed,
    OperationRejectedEvent,
)
_MODELS: dict[str, type[ContractModel]] = {model.DETAIL_TYPE: model for model in ANSWERED}
# The tenant's status here once a lifecycle operation SBT asked for succeeded.
_STATUS_AFTER = {
    TenantOffboarded: TenantStatus.OFFBOARDED,
    TenantSuspended: TenantStatus.SUSPENDED,
    TenantResumed: TenantStatus.ACTIVE,
}


@dataclass(frozen=True)
class SbtAnswerResult:
    answered: str | None  # the answer's detail-type, or None when SBT did not ask

    def wire(self) -> dict[str, Any]:
        return {"answered": self.answered}


def answer_outcome(
    detail_type: str, detail: Any, *, links: SbtLinks, sender: EventSender, sources: AnswerSources
) -> SbtAnswerResult:
    outcome = _MODELS[detail_type].from_wire(detail)
    answer = _answer(outcome, links, sources)
    if answer is None:
        return SbtAnswerResult(answered=None)
    answer.send(sender)
    logger.info("answered SBT", extra={"outcome": detail_type, "answer": answer.detail_type})
    return SbtAnswerResult(answered=answer.detail_type)


def _answer(outcome: ContractModel, links: SbtLinks, sources: AnswerSources) -> Answer | None:
    match outcome:
        case TenantOnboarded():
            if (link := links.get(outcome.tenant_id)) is None:
                return None
            data = {
                "tier": outcome.tier.value,
                "deploymentModel": outcome.deployment_model.value,
                "chartVersion": outcome.chart_version,
                "gitCommit": outcome.git_commit,
                "verified": outcome.verified,
            }
            return success(link, sources, TenantStatus.ACTIVE.value, data)
        case OnboardingFailed():
            if (link := links.get(outcome.tenant_id)) is None:
                return None
            return link_failure(link, sources, outcome.cause, failed_step=outcome.failed_step)
        case SignupRejected():
            if outcome.signup_id is None or (link := links.get(derive_tenant_id(outcome.signup_id))) is None:
                return None
            errors = sbt_errors(outcome.errors)
            return link_failure(link, sources, reason_of(errors), errors, tenant_exists=False)
        case TenantOffboarded() | TenantSuspended() | TenantResumed():
            if (link := links.get(outcome.operation_id)) is None:
                return None
            data = {"gitCommit": outcome.git_commit, "verified": outcome.verified}
            return success(link, sources, _STATUS_AFTER[type(outcome)].value, data)
        case OperationFailed():
            if (link := links.get(outcome.operation_id)) is None:
                return None
            return link_failure(link, sources, outcome.cause, failed_step=outcome.failed_step)
        case OperationRejectedEvent():
            if outcome.operation_id is None or (link := links.get(outcome.operation_id)) is None:
                return None
            return link_failure(link, sources, reason_of(outcome.errors), outcome.errors)
    return None
