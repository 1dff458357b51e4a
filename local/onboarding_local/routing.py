"""EventBridge delivery, which moto leaves out: matched events go to their Lambda and Step Functions targets.

Lambda targets are invoked asynchronously with Lambda's retries (two, shortened to 0.2 s and 0.4 s locally),
then the function's dead-letter queue; a rule whose function does not exist sends to the rule's
dead-letter queue. Step Functions targets start an execution.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.stack import LocalStack

ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice
ASYNC_RETRY_DELAYS = (0.2, 0.4)  # Lambda waits about 1 and 2 minutes; shortened locally


class EventRouter:
    """Delivers matched EventBridge events to Lambda (asynchronously) and Step Functions targets."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="eventbridge")
        self._pending = 0
        self._cond = threading.Condition()

    def _track(self, fn: Any, *args: Any) -> None:
        with self._cond:
            self._pending += 1

        def run() -> None:
            try:
                fn(*args)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

        self._pool.submit(run)

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def deliver(self, rule: str, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = target["Arn"]
        if isinstance(event.get("time"), (int, float)):
            event["time"] = datetime.utcfromtimestamp(event["time"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        if arn.split(":")[2] == "states":
            self._track(self._start_execution, arn, event)
            return
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        function = arn.rsplit(":", 1)[-1]
        if function not in self.stack.runtime.functions:
            # EventBridge could not deliver: after its retry policy, the event goes to the rule's DLQ.
            self.stack.send_dead_letter(dead_letter, event, f"rule {rule}: function {function} not found")
            return
        self.invoke_async(function, event)

    def invoke_async(self, function: str, payload: dict[str, Any]) -> None:
        self._track(self._invoke_with_retries, function, payload)

    def _invoke_with_retries(self, function: str, payload: dict[str, Any]) -> None:
        result: Any = None
        for attempt in range(ASYNC_RETRIES + 1):
            result, error_type = self.stack.runtime.invoke(function, payload)
            if error_type is None:
                return
            if attempt < ASYNC_RETRIES:
                time.sleep(ASYNC_RETRY_DELAYS[attempt])
        spec = self.stack.runtime.functions[function]
        self.stack.send_dead_letter(spec.dead_letter_arn, payload, json.dumps(result))

    def _start_execution(self, arn: str, event: dict[str, Any]) -> None:
        self.stack.client("stepfunctions").start_execution(
            stateMachineArn=arn, name=str(uuid.uuid4()), input=json.dumps(event)
        )

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def send_dead_letter(sqs: Any, arn: str, event: dict[str, Any], reason: str) -> None:
    """Put ``event`` on the dead-letter queue ``arn`` with the reason, as Lambda and EventBridge do."""
    url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(event),
        MessageAttributes={"ErrorMessage": {"DataType": "String", "StringValue": reason[:1000]}},
    )
