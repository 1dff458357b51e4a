"""TallyWaveImages: each remote tenant's copy build of the wave, judged from what CodeBuild says of it."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import WaveInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import build_results, release_store, utcnow
from onboarding.settings.release import ReleaseCopySettings
from onboarding.steps.tally_wave_images import tally_wave_images


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseCopySettings()
    return tally_wave_images(
        WaveInput.model_validate(event),
        releases=release_store(settings.releases_table),
        builds=build_results(),
        now=utcnow,
        poll_seconds=settings.release_poll_seconds,
    )
