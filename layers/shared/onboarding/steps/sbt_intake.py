"""SbtIntake: an SBT control-plane request becomes our own request, handled by our own intakes.

onboarding -> ``Tenant Signup Requested`` (SBT's tenantId is the signupId, the idempotency key), offboarding ->
``Tenant Offboarding Requested``, deactivate -> ``Tenant Suspend Requested``, activate -> ``Tenant Resume
Requested``. Each is put back on the bus with the signup source, so the Intake and LifecycleIntake validate,
deduplicate and reject it exactly as they do a request of our own; SbtAnswer turns the outcome into SBT's answer.
Only a request this intake cannot even translate (no tenantId) is answered here, as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from onboarding.contract.common import FieldError
from onboarding.contract.lifecycle import LIFECYCLE_OPERATIONS, Operation
from onboarding.contract.sbt import SBT_REQUESTS, SbtAccepted, SbtAction, SbtOnboardingRequest, SbtRequest
from onboarding.contract.signup import SignupRequested
from onboarding.identity import derive_tenant_id
from onboarding.observability import logger
from onboarding.sbt import (
    AnswerSources,
    EventSender,
    SbtLink,
    SbtLinks,
    failure,
    operation_id,
    reason_of,
    sbt_errors,
)
from onboarding.validation import bounded, echoed, field_errors

LIFECYCLE = {
    SbtAction.OFFBOARDING: Operation.OFFBOARD,
    SbtAction.DEACTIVATE: Operation.SUSPEND,
    SbtAction.ACTIVATE: Operation.RESUME,
}
_LIFECYCLE_DETAIL_TYPES = {operation: detail_type for detail_type, (operation, _) in LIFECYCLE_OPERATIONS.items()}


@dataclass(frozen=True)
class SbtIntakeResult:
    outcome: str  # "forwarded" | "rejected" | "ignored"
    action: SbtAction | None = None
    tenant_id: str | None = None
    operation_id: str | None = None
    errors: tuple[FieldError, ...] = ()

    def wire(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "action": self.action.value if self.action else None,
            "tenantId": self.tenant_id,
            "operationId": self.operation_id,
            "errors": [e.wire() for e in self.errors],
        }


def handle_sbt_request(
    detail_type: str,
    event_id: str,
    detail: Any,
    *,
    accepted: SbtAccepted,
    links: SbtLinks,
    sender: EventSender,
    signup_source: str,
    sources: AnswerSources,
    now: datetime,
) -> SbtIntakeResult:
    known = SBT_REQUESTS.get(detail_type)
    if known is None or not accepted.accepts(known[0]):
        logger.warning("SBT request not accepted", extra={"detailType": detail_type, "accepted": accepted.value})
        return SbtIntakeResult(outcome="ignored")
    vocabulary, action = known
    model = SbtOnboardingRequest if action is SbtAction.ONBOARDING else SbtRequest
    try:
        request = model.from_wire(detail)
    except ValidationError as exc:
        errors = bounded(sbt_errors(field_errors(exc)))
        failure(
            action,
            vocabulary,
            sources,
            registration=echoed(detail, "tenantRegistrationId"),
            sbt_tenant_id=echoed(detail, "tenantId"),
            reason=reason_of(errors),
            errors=errors,
        ).send(sender)
        logger.info("SBT request rejected", extra={"detailType": detail_type, "errors": [e.wire() for e in errors]})
        return SbtIntakeResult(outcome="rejected", action=action, errors=tuple(errors))

    tenant_id = derive_tenant_id(request.tenant_id)
    logger.set_correlation_id(tenant_id)
    link = SbtLink(
        key=tenant_id,
        tenant_id=tenant_id,
        sbt_tenant_id=request.tenant_id,
        tenant_registration_id=request.tenant_registration_id,
        vocabulary=vocabulary,
        action=action,
        created_at=now,
    )
    if isinstance(request, SbtOnboardingRequest):
        links.put(link)  # before the signup goes on: its outcome finds the link
        sender.send(signup_source, SignupRequested.DETAIL_TYPE, request.signup_detail())
        logger.info("SBT onboarding forwarded as a signup", extra={"signupId": request.tenant_id})
        return SbtIntakeResult(outcome="forwarded", action=action, tenant_id=tenant_id)

    # SBT's deactivate carries the tenantId alone: the registration is the one the tenant was onboarded with.
    registration = request.tenant_registration_id
    if registration is None and (onboarded := links.get(tenant_id)) is not None:
        registration = onboarded.tenant_registration_id
    operation = operation_id(action, event_id)
    links.put(link.model_copy(update={"key": operation, "tenant_registration_id": registration}))
    sender.send(
        signup_source, _LIFECYCLE_DETAIL_TYPES[LIFECYCLE[action]], {"tenantId": tenant_id, "operationId": operation}
    )
    logger.info("SBT request forwarded", extra={"action": action.value, "operationId": operation})
    return SbtIntakeResult(outcome="forwarded", action=action, tenant_id=tenant_id, operation_id=operation)
