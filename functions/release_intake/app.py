"""ReleaseIntake: fleet release requests, approvals and aborts from the provider's CI."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import (
    chart_catalog,
    event_publisher,
    execution_starter,
    release_parameter,
    release_store,
    task_callbacks,
)
from onboarding.settings import ReleaseIntakeSettings
from onboarding.steps.release_intake import handle_release_event


@logger.inject_lambda_context(correlation_id_path="detail.releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseIntakeSettings()
    envelope = parse(event=event, model=EventBridgeModel)
    current = release_parameter(settings.release_parameter).read()
    return handle_release_event(
        envelope.detail_type,
        envelope.detail,
        releases=release_store(settings.releases_table),
        starter=execution_starter(settings.release_state_machine_arn),
        publisher=event_publisher(settings),
        catalog=chart_catalog(current.registry, current.region),
        callbacks=task_callbacks(),
        current=current,
    )
