"""BuildCallback: "CodeBuild Build State Change" -> the waiting onboarding resumes, with digests or the reason."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.codebuild_events import BuildStateChangeEvent
from onboarding.observability import logger, metrics, tracer
from onboarding.runtime import pending_builds, task_callbacks
from onboarding.settings.remote import BuildCallbackSettings
from onboarding.steps.build_callback import handle_build_state_change


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = BuildCallbackSettings()
    envelope = parse(event=event, model=BuildStateChangeEvent)
    outcome = handle_build_state_change(
        envelope.detail,
        pending=pending_builds(settings.pending_builds_table),
        callbacks=task_callbacks(),
    )
    return {"outcome": outcome}
