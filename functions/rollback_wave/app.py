"""RollbackWave: a failed wave's tenants back on their last good version, in one commit."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import WaveInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import gitops_repository, release_store, tenant_artifacts, tenant_store, utcnow
from onboarding.settings.release import ReleaseSettings
from onboarding.steps.rollback_wave import rollback_wave


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseSettings()
    return rollback_wave(
        WaveInput.model_validate(event),
        releases=release_store(settings.releases_table),
        tenants=tenant_store(settings),
        repo=gitops_repository(settings),
        layout=settings.gitops_layout,
        artifacts_for=tenant_artifacts,
        timeout_seconds=settings.reconcile_timeout_seconds,
        poll_seconds=settings.release_poll_seconds,
        now=utcnow,
    )
