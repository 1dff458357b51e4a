"""ReleaseIntake: fleet release requests, approvals and aborts from the provider's CI."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import (
    chart_catalog,
    event_publisher,
    execution_starter,
    gitops_repository,
    release_parameter,
    release_store,
    task_callbacks,
    tenant_artifacts,
    tenant_store,
    utcnow,
)
from onboarding.settings.release import ReleaseIntakeSettings
from onboarding.steps.release_intake import Takeover, handle_release_event


@logger.inject_lambda_context(correlation_id_path="detail.releaseId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ReleaseIntakeSettings()
    envelope = parse(event=event, model=EventBridgeModel)
    parameter = release_parameter(settings.release_parameter)
    current = parameter.read()
    releases, starter = release_store(settings.releases_table), execution_starter(settings.release_state_machine_arn)
    takeover = Takeover(  # a release execution that ended without finishing: its tenants put back, claim taken
        executions=starter,
        claims=releases,
        tenants=tenant_store(settings),
        repo=lambda: gitops_repository(settings),
        layout=settings.gitops_layout,
        artifacts_for=tenant_artifacts,
        parameter=parameter,
        now=utcnow,
    )
    return handle_release_event(
        envelope.detail_type,
        envelope.detail,
        releases=releases,
        starter=starter,
        publisher=event_publisher(settings),
        catalog=chart_catalog(current.registry, current.region),
        callbacks=task_callbacks(),
        current=current,
        takeover=takeover,
    )
