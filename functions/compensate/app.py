"""Compensate: undo this execution's own steps (GitOps files, name claim), in reverse order."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.compensate import compensate
from onboarding.models import CompensateInput
from onboarding.observability import logger, metrics, tracer
from onboarding.ports import GitOpsRepository, TenantStore
from onboarding.runtime import gitops_repository, tenant_store
from onboarding.settings import CompensateSettings


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    tenants: TenantStore | None = None,
    repo: GitOpsRepository | None = None,
) -> dict[str, Any]:
    settings = CompensateSettings()
    step = parse(event=event, model=CompensateInput)
    result = compensate(step, tenants=tenants or tenant_store(settings), repo=repo or gitops_repository(settings))
    logger.info("compensation finished", extra=result.wire())
    return result.wire()
