"""RegisterTenant: tenant record in DynamoDB (conditional writes) and its unique name claim."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import logger, metrics, tracer
from onboarding.payloads import StepInput
from onboarding.runtime import event_publisher, tenant_store, utcnow
from onboarding.settings.hybrid import RegisterSettings
from onboarding.steps.register_tenant import register_tenant


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = RegisterSettings()
    step = parse(event=event, model=StepInput)
    registration = register_tenant(
        step,
        tenants=tenant_store(settings, settings.network_claims_table),
        publisher=event_publisher(settings),
        now=utcnow,
    )
    return registration.wire()
