"""HaltRelease: a wave over its tolerated failures, or an abort, stops the release and says why."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.fleet import WaveInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import event_publisher, release_parameter, release_store, tenant_store, utcnow
from onboarding.settings.release import ReleaseSettings
from onboarding.steps.halt_release import halt_release


@logger.inject_lambda_context(correlation_id_path="releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseSettings()
    return halt_release(
        WaveInput.model_validate(event),
        releases=release_store(settings.releases_table),
        tenants=tenant_store(settings),
        parameter=release_parameter(settings.release_parameter),
        publisher=event_publisher(settings),
        now=utcnow,
        aborted=event.get("aborted") is True,
    )
