"""RejectOperation: the operation is not allowed for this tenant now; nothing was changed."""

from __future__ import annotations

from onboarding.models import FieldError, LifecycleRejectInput, OperationRejectedEvent
from onboarding.ports import EventPublisher
from onboarding.record_failure import failure_reason


def reject_operation(step: LifecycleRejectInput, *, publisher: EventPublisher) -> OperationRejectedEvent:
    event = OperationRejectedEvent(
        tenant_id=step.tenant_id,
        operation_id=step.operation_id,
        operation=step.operation,
        errors=[FieldError(field="tenantId", message=failure_reason(step.error))],
    )
    publisher.publish([event])
    return event
