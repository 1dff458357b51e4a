"""VerifyTenantAccess: the onboarding role in the customer's account, assumed with the tenant's ExternalId."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import logger, metrics, tracer
from onboarding.payloads import StepInput
from onboarding.runtime import remote_accounts
from onboarding.settings.remote import RemoteSettings
from onboarding.steps.verify_tenant_access import verify_tenant_access


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = RemoteSettings()
    step = parse(event=event, model=StepInput)
    role = verify_tenant_access(step, accounts=remote_accounts(), provider_roles=settings.provider_pipeline_role_arns)
    return {"roleArn": role}
