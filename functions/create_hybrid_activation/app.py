"""CreateHybridActivation: SSM activation for the tenant's hybrid nodes, kept in Secrets Manager, plus the guide."""

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.hybrid import HybridConfig
from onboarding.observability import logger, metrics, tracer
from onboarding.payloads import StepInput
from onboarding.runtime import hybrid_adapters, utcnow
from onboarding.settings.hybrid import CreateHybridActivationSettings
from onboarding.steps.create_hybrid_activation import create_hybrid_activation


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = CreateHybridActivationSettings()
    step = parse(event=event, model=StepInput)
    real_activations, real_secrets, real_documents = hybrid_adapters(settings)
    config = HybridConfig(
        nodes_role=settings.hybrid_nodes_role,
        activation_expiry=timedelta(days=settings.activation_expiry_days),
        secret_prefix=settings.tenant_secret_prefix,
        cluster_name=settings.cluster_name,
        region=settings.aws_region,
    )
    resources = create_hybrid_activation(
        step,
        activations=real_activations,
        secrets=real_secrets,
        documents=real_documents,
        config=config,
        layout=settings.gitops_layout,
        now=utcnow,
    )
    return resources.model_dump(mode="json", by_alias=True)
