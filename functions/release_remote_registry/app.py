"""ReleaseRemoteRegistry: an offboarded remote tenant's repositories, kept or deleted by the retention setting."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.lifecycle_payloads import LifecycleStepInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import remote_accounts, tenant_registry
from onboarding.settings.remote import RetentionSettings
from onboarding.steps.release_remote_registry import release_remote_registry


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = RetentionSettings()
    step = parse(event=event, model=LifecycleStepInput)
    released = release_remote_registry(
        step,
        accounts=remote_accounts(),
        registry_for=tenant_registry,
        retention=settings.remote_repository_retention,
    )
    return released.wire()
