"""SbtAnswer: our outcome events -> SBT's answers (provision, deprovision, activate, deactivate) for SBT's requests."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.runtime import event_publisher, sbt_links
from onboarding.sbt import AnswerSources
from onboarding.settings.sbt import SbtAnswerSettings
from onboarding.steps.sbt_answer import answer_outcome


@logger.inject_lambda_context(correlation_id_path="detail.tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = SbtAnswerSettings()
    envelope = parse(event=event, model=EventBridgeModel)
    result = answer_outcome(
        envelope.detail_type,
        envelope.detail,
        links=sbt_links(settings.sbt_registrations_table),
        sender=event_publisher(settings),
        sources=AnswerSources(settings.sbt_application_plane_source, settings.sbt_legacy_application_plane_source),
    )
    if result.answered is not None:
        metrics.add_metric(name="SbtAnswersSent", unit=MetricUnit.Count, value=1)
    return result.wire()
