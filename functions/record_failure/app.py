"""RecordFailure: tenant FAILED with step and reason, then ``Tenant Onboarding Failed``."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.contract.signup import OnboardingFailed
from onboarding.failures import execution_error
from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.payloads import RecordFailureInput
from onboarding.runtime import event_publisher, tenant_store, utcnow
from onboarding.settings import StepSettings
from onboarding.steps.record_failure import record_failure


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = StepSettings()
    step = parse(event=event, model=RecordFailureInput)
    event_out = record_failure(
        step,
        tenants=tenant_store(settings),
        publisher=event_publisher(settings),
        now=utcnow,
    )
    metrics.clear_metrics()  # this invocation's dimensions only (a warm sandbox keeps the last ones)
    metrics.add_dimension(name="step", value=step.failed_step)  # the dashboard charts failures by step
    metrics.add_metric(name="OnboardingsFailed", unit=MetricUnit.Count, value=1)
    cause = (
        event_out.cause
        if isinstance(event_out, OnboardingFailed)
        else "the tenant is ACTIVE; only its announcement had failed, and it was announced again"
    )
    return {"cause": cause, "executionError": execution_error(step.error.error), "event": event_out.wire()}
