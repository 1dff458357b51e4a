"""LifecycleIntake: offboarding, tier change, suspend and resume requests -> one lifecycle execution each."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.runtime import event_publisher, execution_starter
from onboarding.settings.lifecycle import LifecycleIntakeSettings
from onboarding.steps.lifecycle_intake import handle_lifecycle_request


@logger.inject_lambda_context(correlation_id_path="detail.tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = LifecycleIntakeSettings()
    envelope = parse(event=event, model=EventBridgeModel)
    result = handle_lifecycle_request(
        envelope.detail_type,
        envelope.detail,
        starter=execution_starter(settings.lifecycle_state_machine_arn),
        publisher=event_publisher(settings),
    )
    metrics.add_metric(name=f"Operation{result.outcome.title()}", unit=MetricUnit.Count, value=1)
    return result.wire()
