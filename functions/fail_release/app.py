"""FailRelease: a release stopped by an error no retry fixed puts back what it holds, gives its claim back, says why."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import ReleaseInput
from onboarding.observability import logger, metrics, tracer
from onboarding.payloads import StepError
from onboarding.runtime import (
    event_publisher,
    gitops_repository,
    release_parameter,
    release_store,
    tenant_artifacts,
    tenant_store,
    utcnow,
)
from onboarding.settings.release import ReleaseSettings
from onboarding.steps.fail_release import fail_release


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseSettings()
    return fail_release(
        ReleaseInput.model_validate(event),
        StepError.model_validate(event.get("error") or {"Error": "Unknown"}),
        releases=release_store(settings.releases_table),
        tenants=tenant_store(settings),
        repo=gitops_repository(settings),
        layout=settings.gitops_layout,
        artifacts_for=tenant_artifacts,
        parameter=release_parameter(settings.release_parameter),
        publisher=event_publisher(settings),
        now=utcnow,
    )
