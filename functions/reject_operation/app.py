"""RejectOperation: the operation is not allowed for this tenant now; announce why, change nothing."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.lifecycle_payloads import LifecycleRejectInput
from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.runtime import event_publisher
from onboarding.settings import EventSettings
from onboarding.steps.reject_operation import reject_operation


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = EventSettings()
    step = parse(event=event, model=LifecycleRejectInput)
    outcome = reject_operation(step, publisher=event_publisher(settings))
    metrics.add_metric(name="OperationsRejected", unit=MetricUnit.Count, value=1)
    return outcome.wire()
