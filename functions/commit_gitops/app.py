"""CommitGitOps: the tenant's Flux manifests, committed and pushed to the GitOps repository."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.payloads import StepInput
from onboarding.runtime import gitops_writer, release, tenant_artifacts
from onboarding.settings.gitops import CommitGitOpsSettings
from onboarding.steps.commit_gitops import commit_gitops


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = CommitGitOpsSettings()
    step = parse(event=event, model=StepInput)
    # a remote tenant's execution carries the release its images were copied from; the others read it now
    current = step.registry.release if step.registry is not None else release(settings.release_parameter)
    signup = step.signup
    artifacts = None
    if signup.aws_account_id is not None and signup.region is not None:  # a remote tenant
        artifacts = tenant_artifacts(signup.aws_account_id, signup.region, step.tenant_id)
    writer = gitops_writer(settings, context.get_remaining_time_in_millis())
    change = commit_gitops(
        step, repo=writer.repo, layout=settings.gitops_layout, release=current, artifacts=artifacts, writer=writer
    )
    metrics.add_metric(name="GitOpsCommits", unit=MetricUnit.Count, value=1 if change.changed else 0)
    return {**change.wire(), "reconcileTimeoutSeconds": settings.reconcile_timeout_seconds}
