"""TallyWave: Flux's verdict on every tenant of the wave (or of its rollback), from the recorded verdicts."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import WaveInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import reconcile_store, release_store, utcnow
from onboarding.settings.release import ReleaseSettings
from onboarding.steps.tally_wave import tally_wave


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseSettings()
    return tally_wave(
        WaveInput.model_validate(event),
        releases=release_store(settings.releases_table),
        verdicts=reconcile_store(settings.reconcile_table),
        now=utcnow,
        poll_seconds=settings.release_poll_seconds,
        rollback=event.get("rollback") is True,
    )
