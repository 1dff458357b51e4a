"""ActivateTenant: status ACTIVE with the GitOps commit, then ``Tenant Onboarded``."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.payloads import ActivateInput
from onboarding.runtime import event_publisher, tenant_store, utcnow
from onboarding.settings import StepSettings
from onboarding.steps.activate_tenant import activate_tenant


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = StepSettings()
    step = parse(event=event, model=ActivateInput)
    status = activate_tenant(
        step,
        tenants=tenant_store(settings),
        publisher=event_publisher(settings),
        now=utcnow,
    )
    # what the dashboard charts: onboardings and their duration by tier and deployment model, tenants per chart
    dimensions = {"tier": step.signup.tier.value, "deploymentModel": step.signup.model.value}
    metrics.clear_metrics()  # this invocation's dimensions only (a warm sandbox keeps the last ones)
    for name, value in dimensions.items():
        metrics.add_dimension(name=name, value=value)
    metrics.add_metric(name="TenantsOnboarded", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="chartVersion", value=step.gitops.chart_version)
    if step.requested_at is not None:
        took = (utcnow() - step.requested_at).total_seconds() * 1000
        metrics.add_metric(name="OnboardingDuration", unit=MetricUnit.Milliseconds, value=took)
    return {"status": status}
