"""UpdateGitOps: the tenant's GitOps file changed to the planned state, in one commit."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.lifecycle_payloads import LifecycleStepInput
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import gitops_writer, tenant_artifacts
from onboarding.settings.gitops import UpdateGitOpsSettings
from onboarding.steps.update_gitops import update_gitops


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = UpdateGitOpsSettings()
    step = parse(event=event, model=LifecycleStepInput)
    plan = step.plan
    artifacts = None
    if plan.aws_account_id is not None and plan.region is not None:  # a remote tenant
        artifacts = tenant_artifacts(plan.aws_account_id, plan.region, step.tenant_id)
    writer = gitops_writer(settings, context.get_remaining_time_in_millis())
    change = update_gitops(step, repo=writer.repo, layout=settings.gitops_layout, artifacts=artifacts, writer=writer)
    return {**change.wire(), "reconcileTimeoutSeconds": settings.reconcile_timeout_seconds}
