"""AwaitApproval: the release waits (task token) for 'Fleet Release Approved' of this wave."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import WaveInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import event_publisher, release_store
from onboarding.settings.release import ReleaseSettings
from onboarding.steps.await_approval import await_approval


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseSettings()
    outcome = await_approval(
        WaveInput.model_validate(event),
        str(event["taskToken"]),
        releases=release_store(settings.releases_table),
        publisher=event_publisher(settings),
    )
    return {"outcome": outcome}
