"""Compensate: undo this execution's own steps (GitOps files, name claim), in reverse order."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.errors import OnboardingError
from onboarding.observability import logger, metrics, tracer
from onboarding.payloads import CompensateInput
from onboarding.ports import GitOpsRepository
from onboarding.runtime import (
    gitops_repository,
    hybrid_adapters,
    release,
    remote_accounts,
    tenant_registry,
    tenant_store,
)
from onboarding.settings.compensate import HybridCompensateSettings
from onboarding.steps.compensate import HybridCleanup, RemoteCleanup, compensate


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = HybridCompensateSettings()
    step = parse(event=event, model=CompensateInput)
    hybrid: HybridCleanup | None = None
    remote: RemoteCleanup | None = None
    if step.signup.hybrid is not None:
        hybrid = HybridCleanup(*hybrid_adapters(settings), secret_prefix=settings.tenant_secret_prefix)
    if step.signup.aws_account_id is not None:
        remote = RemoteCleanup(
            accounts=remote_accounts(),
            registry_for=tenant_registry,
            release_images=lambda: [image.name for image in release(settings.release_parameter).images],
        )
    repo: GitOpsRepository | None = None
    try:
        repo = gitops_repository(settings)
    except OnboardingError as exc:  # e.g. the token secret is gone: undo everything else anyway
        logger.warning("GitOps repository unavailable for compensation", extra={"reason": str(exc)})
    result = compensate(
        step,
        tenants=tenant_store(settings, settings.network_claims_table),
        repo=repo,
        hybrid=hybrid,
        remote=remote,
    )
    logger.info("compensation finished", extra=result.wire())
    return result.wire()
