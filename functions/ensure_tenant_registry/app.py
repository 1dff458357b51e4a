"""EnsureTenantRegistry: the tenant's ECR repositories in its own account, one per release image."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import logger, metrics, tracer
from onboarding.payloads import StepInput
from onboarding.runtime import release, remote_accounts, tenant_registry
from onboarding.settings.remote import EnsureRegistrySettings
from onboarding.steps.ensure_tenant_registry import ensure_tenant_registry


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = EnsureRegistrySettings()
    step = parse(event=event, model=StepInput)
    registry = ensure_tenant_registry(
        step,
        accounts=remote_accounts(),
        registry_for=tenant_registry,
        release=release(settings.release_parameter),
        build_timeout_seconds=settings.artifact_build_timeout_seconds,
    )
    return registry.wire()
