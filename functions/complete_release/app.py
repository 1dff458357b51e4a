"""CompleteRelease: every wave passed; the release is COMPLETED and announced."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import ReleaseInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import event_publisher, release_store
from onboarding.settings.release import ReleaseSettings
from onboarding.steps.complete_release import complete_release


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseSettings()
    return complete_release(
        ReleaseInput.model_validate(event),
        releases=release_store(settings.releases_table),
        publisher=event_publisher(settings),
    )
