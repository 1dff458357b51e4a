"""AwaitReconcile: records the wait for Flux's verdict (task token), or answers at once from a recorded one."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import reconcile_store, task_callbacks
from onboarding.settings.reconcile import ReconcileSettings
from onboarding.steps.await_reconcile import AwaitInput, await_reconcile


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReconcileSettings()
    step = parse(event=event, model=AwaitInput)
    outcome = await_reconcile(
        step,
        store=reconcile_store(settings.reconcile_table),
        callbacks=task_callbacks(),
        feedback=settings.reconcile_feedback,
    )
    return {"outcome": outcome}
