"""StartArtifactBuild: CodeBuild copies the release into the tenant's ECR; the execution waits for its end."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from onboarding.observability import logger, metrics, tracer
from onboarding.payloads import StepInput
from onboarding.runtime import artifact_builds, pending_builds
from onboarding.settings.remote import StartBuildSettings
from onboarding.steps.start_artifact_build import start_artifact_build


class WaitingStep(StepInput):
    task_token: str = Field(min_length=1)


@logger.inject_lambda_context(correlation_id_path="tenantId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = StartBuildSettings()
    step = parse(event=event, model=WaitingStep)
    build_id = start_artifact_build(
        step,
        step.task_token,
        builds=artifact_builds(),
        pending=pending_builds(settings.pending_builds_table),
        project=settings.artifact_build_project,
    )
    return {"buildId": build_id}
