"""BuildCallback: "CodeBuild Build State Change" -> the waiting onboarding resumes, with digests or the reason."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import logger, metrics, tracer
from onboarding.ports import PendingBuilds, TaskCallbacks
from onboarding.runtime import pending_builds, task_callbacks
from onboarding.settings import BuildCallbackSettings
from onboarding.steps.build_callback import handle_build_state_change


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    pending: PendingBuilds | None = None,
    callbacks: TaskCallbacks | None = None,
) -> dict[str, Any]:
    settings = BuildCallbackSettings()
    envelope = parse(event=event, model=EventBridgeModel)
    outcome = handle_build_state_change(
        envelope.detail,
        pending=pending or pending_builds(settings.pending_builds_table),
        callbacks=callbacks or task_callbacks(),
    )
    return {"outcome": outcome}
