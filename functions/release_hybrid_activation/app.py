"""ReleaseHybridActivation: an offboarded hybrid tenant's activation, secret, CIDRs and guide removed."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.lifecycle_payloads import LifecycleStepInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import hybrid_adapters, tenant_store
from onboarding.settings.hybrid import ReleaseHybridSettings
from onboarding.steps.release_hybrid_activation import release_hybrid_activation


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseHybridSettings()
    step = parse(event=event, model=LifecycleStepInput)
    real_activations, real_secrets, real_documents = hybrid_adapters(settings)
    released = release_hybrid_activation(
        step,
        tenants=tenant_store(settings, settings.network_claims_table),
        activations=real_activations,
        secrets=real_secrets,
        documents=real_documents,
        secret_prefix=settings.tenant_secret_prefix,
        handover_bucket=settings.handover_bucket,
    )
    return released.wire()
