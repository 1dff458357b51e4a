"""CompleteOperation: the tenant's new state recorded, its lock released, the outcome announced."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.lifecycle_payloads import CompleteOperationInput
from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.runtime import event_publisher, tenant_store, utcnow
from onboarding.settings.lifecycle import CompleteOperationSettings
from onboarding.steps.complete_operation import complete_operation


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = CompleteOperationSettings()
    step = parse(event=event, model=CompleteOperationInput)
    outcome = complete_operation(
        step,
        tenants=tenant_store(settings),
        publisher=event_publisher(settings),
        now=utcnow,
        name_release_after=timedelta(days=settings.name_release_after_days),
        data_retention=timedelta(days=settings.data_retention_days),
    )
    metrics.add_metric(name="OperationsCompleted", unit=MetricUnit.Count, value=1)
    return outcome.wire()
