"""moto's gaps, filled for the running local stack, honestly and only here.

- moto's Lambda cannot run code without Docker: ``LambdaSimpleBackend.invoke`` is routed to the real
  handler, and exceptions come back as Lambda reports them (``x-amz-function-error``). A handler's wait
  (``onboarding.runtime.pause``) lets other invocations run, as concurrent sandboxes do on AWS.
- moto's ``PutEvents`` matches rules but does not deliver to Lambda or Step Functions targets:
  ``Rule.send_to_targets`` hands matching events for those to the stack's router (routing.py), which
  delivers them with Lambda's asynchronous retry and dead-letter behaviour; other targets stay moto's.
- ``EventsBackend.put_events`` also records every accepted entry on the stack (``stack.emitted``).
- moto's ``SendTaskFailure`` response handler drops the ``cause``; it is passed through here.
- SSM hybrid activations, role trust on ``AssumeRole`` and CodeBuild runs: ssm_activations.py,
  trust.py and codebuild.py.

Everything is installed when a stack starts and put back when it stops (through its ProcessChanges).
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from onboarding_local import codebuild, ssm_activations, trust

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges
    from onboarding_local.stack import LocalStack


def install(stack: LocalStack, changes: ProcessChanges) -> None:
    """Route moto's Lambda invoke and EventBridge rule targets to ``stack``; fill moto's other gaps."""
    _patch_lambda(stack, changes)
    _patch_events(stack, changes)
    ssm_activations.install(changes)
    trust.install(changes)
    codebuild.install(lambda: stack.codebuild, changes)
    _patch_send_task_failure(changes)


def _patch_lambda(stack: LocalStack, changes: ProcessChanges) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        payload = json.loads(body) if body else {}
        if headers.get("X-Amz-Invocation-Type") == "Event":
            stack.router.invoke_async(name, payload)
            return b""
        result, error_type = stack.runtime.invoke(name, payload)
        if error_type:
            response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(result).encode()

    changes.patch(LambdaSimpleBackend, "invoke", invoke)
    import onboarding.runtime

    changes.patch(onboarding.runtime, "pause", stack.runtime.pause)


def _patch_events(stack: LocalStack, changes: ProcessChanges) -> None:
    from moto.events.models import EventsBackend, Rule

    original_send = Rule.send_to_targets

    def send_to_targets(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(event):
            return
        for target in self.targets:
            service = target["Arn"].split(":")[2]
            if service in ("lambda", "states"):
                stack.router.deliver(self.name, target, copy.deepcopy(event))
            else:
                single = copy.copy(self)
                single.targets = [target]
                original_send(single, event, transform_input)

    original_put = EventsBackend.put_events

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        entries = original_put(self, events)
        for event, entry in zip(events, entries, strict=False):
            if "EventId" in entry:
                stack.record_event(event)
        return entries

    changes.patch(Rule, "send_to_targets", send_to_targets)
    changes.patch(EventsBackend, "put_events", put_events)


def _patch_send_task_failure(changes: ProcessChanges) -> None:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        # moto's response handler drops the cause; the engine itself supports it
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    changes.patch(StepFunctionResponse, "send_task_failure", send_task_failure)
