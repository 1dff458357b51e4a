"""PlanRelease: the live tenants assigned to waves, kept in DynamoDB; the release announced."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import ReleaseInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import event_publisher, release_parameter, release_store, tenant_store, utcnow
from onboarding.settings.release import ReleaseSettings
from onboarding.steps.plan_release import plan_release


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseSettings()
    return plan_release(
        ReleaseInput.model_validate(event),
        tenants=tenant_store(settings),
        releases=release_store(settings.releases_table),
        parameter=release_parameter(settings.release_parameter),
        publisher=event_publisher(settings),
        now=utcnow,
        approval_timeout_seconds=settings.approval_timeout_seconds,
    )
