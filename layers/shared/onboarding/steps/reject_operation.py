"""RejectOperation: the operation is not allowed for this tenant now; nothing was changed."""

from __future__ import annotations

from onboarding.contract.common import FieldError
from onboarding.contract.lifecycle import OperationRejectedEvent
from onboarding.failures import failure_reason
from onboarding.lifecycle_payloads import LifecycleRejectInput
from onboarding.ports import EventPublisher


def reject_operation(step: LifecycleRejectInput, *, publisher: EventPublisher) -> OperationRejectedEvent:
    event = OperationRejectedEvent(
        tenant_id=step.tenant_id,
        operation_id=step.operation_id,
        operation=step.operation,
        errors=[FieldError(field="tenantId", message=failure_reason(step.error))],
    )
    publisher.publish([event])
    return event
