"""LifecycleIntake: validate a lifecycle request and start (at most) one lifecycle execution per operationId."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from onboarding.contract.lifecycle import LIFECYCLE_OPERATIONS, OperationRejectedEvent, TierChangeRequested
from onboarding.identity import operation_execution_name
from onboarding.lifecycle_payloads import LifecycleRequestInput
from onboarding.observability import logger
from onboarding.ports import EventPublisher, ExecutionStarter
from onboarding.validation import IntakeResult, bounded, echoed, field_errors


def handle_lifecycle_request(
    detail_type: str, detail: Any, *, starter: ExecutionStarter, publisher: EventPublisher
) -> IntakeResult:
    operation, model = LIFECYCLE_OPERATIONS[detail_type]
    try:
        request = model.from_wire(detail)
    except ValidationError as exc:
        errors = bounded(field_errors(exc))  # whatever the request held, the rejection fits in an event
        publisher.publish(
            [
                OperationRejectedEvent(
                    tenant_id=echoed(detail, "tenantId"),
                    operation_id=echoed(detail, "operationId"),
                    operation=operation,
                    errors=errors,
                )
            ]
        )
        return IntakeResult(outcome="rejected", errors=tuple(errors))
    logger.set_correlation_id(request.tenant_id)
    name = operation_execution_name(request.operation_id)
    payload = LifecycleRequestInput(
        tenant_id=request.tenant_id,
        operation=operation,
        operation_id=request.operation_id,
        execution=name,
        to_tier=request.tier if isinstance(request, TierChangeRequested) else None,
        data_plan=request.data_plan if isinstance(request, TierChangeRequested) else None,
    )
    started = starter.start(name, payload.wire())
    logger.info("operation started" if started else "duplicate operation", extra={"execution": name})
    return IntakeResult(outcome="started" if started else "duplicate", tenant_id=request.tenant_id, execution=name)
