"""SbtIntake: SBT's control-plane requests (both vocabularies) -> our own signup and lifecycle requests."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.contract.sbt import SbtAccepted
from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.runtime import event_publisher, sbt_links
from onboarding.sbt import AnswerSources
from onboarding.settings.sbt import SbtIntakeSettings
from onboarding.steps.sbt_intake import handle_sbt_request


@logger.inject_lambda_context(correlation_id_path="detail.tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = SbtIntakeSettings()
    envelope = parse(event=event, model=EventBridgeModel)
    result = handle_sbt_request(
        envelope.detail_type,
        envelope.id,
        envelope.detail,
        accepted=SbtAccepted(settings.sbt_vocabulary),
        links=sbt_links(settings.sbt_registrations_table),
        sender=event_publisher(settings),
        signup_source=settings.signup_event_source,
        sources=AnswerSources(settings.sbt_application_plane_source, settings.sbt_legacy_application_plane_source),
        now=datetime.now(UTC),
    )
    metrics.add_metric(name=f"SbtRequests{result.outcome.title()}", unit=MetricUnit.Count, value=1)
    return result.wire()
