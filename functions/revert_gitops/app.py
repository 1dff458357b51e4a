"""RevertGitOps: compensation - the tenant's GitOps file put back as it was before the operation."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.lifecycle_payloads import LifecycleFailureInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import gitops_repository, tenant_artifacts, tenant_store
from onboarding.settings.gitops import RevertSettings
from onboarding.steps.revert_gitops import revert_gitops


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = RevertSettings()
    step = parse(event=event, model=LifecycleFailureInput)
    plan = step.plan
    artifacts = None
    if plan is not None and plan.aws_account_id is not None and plan.region is not None:  # a remote tenant
        artifacts = tenant_artifacts(plan.aws_account_id, plan.region, step.tenant_id)
    return revert_gitops(
        step,
        repo=gitops_repository(settings),
        layout=settings.gitops_layout,
        tenants=tenant_store(settings),
        artifacts=artifacts,
    ).wire()
