"""FinishWave: the wave recorded on its tenants and announced; an abort stops the release here."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import WaveInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import event_publisher, gitops_repository, release_store, tenant_store, utcnow
from onboarding.settings.release import ReleaseSettings
from onboarding.steps.finish_wave import finish_wave


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseSettings()
    return finish_wave(
        WaveInput.model_validate(event),
        releases=release_store(settings.releases_table),
        tenants=tenant_store(settings),
        repo=gitops_repository(settings),
        layout=settings.gitops_layout,
        publisher=event_publisher(settings),
        now=utcnow,
    )
