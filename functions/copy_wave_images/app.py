"""CopyWaveImages: a release's images copied into each remote tenant's ECR (one build each) before its wave."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import WaveInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import artifact_builds, release_store, tenant_store, utcnow
from onboarding.settings.release import ReleaseCopySettings
from onboarding.steps.copy_wave_images import copy_wave_images


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseCopySettings()
    return copy_wave_images(
        WaveInput.model_validate(event),
        releases=release_store(settings.releases_table),
        tenants=tenant_store(settings),
        builds=artifact_builds(),
        project=settings.artifact_build_project,
        timeout_seconds=settings.artifact_build_timeout_seconds,
        poll_seconds=settings.release_poll_seconds,
        now=utcnow,
    )
