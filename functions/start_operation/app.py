"""StartOperation: check the operation against the tenant, take its lock, and plan the change."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.lifecycle_payloads import LifecycleRequestInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import tenant_store, utcnow
from onboarding.settings import TenantStoreSettings
from onboarding.steps.start_operation import start_operation


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = TenantStoreSettings()
    step = parse(event=event, model=LifecycleRequestInput)
    return start_operation(step, tenants=tenant_store(settings), now=utcnow).wire()
