"""Fault injection (tests, demos): chosen AWS calls made through boto3's default session fail with a chosen code.

A ``before-call`` hook on the session answers the call itself with an error response, as the service would,
so the handler's adapter sees a real ``ClientError`` and the pipeline's retries and catches run for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges


@dataclass
class Fault:
    code: str
    remaining: int
    skip: int = 0
    message: str = "injected by the local stack"


class _Http:
    status_code = 400
    headers: dict[str, str] = {}
    content = b""
    text = ""


class FaultInjector:
    def __init__(self) -> None:
        self.faults: dict[str, Fault] = {}

    def inject(self, service: str, operation: str, code: str, times: int = 1, after: int = 0) -> None:
        """Make ``times`` calls of ``service:operation`` fail with ``code``, after ``after`` succeed."""
        self.faults[f"{service}.{operation}"] = Fault(code=code, remaining=times, skip=after)

    def before_call(self, model: Any, **_: Any) -> Any:
        fault = self.faults.get(f"{model.service_model.endpoint_prefix}.{model.name}")
        if fault is None or fault.remaining <= 0:
            return None
        if fault.skip > 0:
            fault.skip -= 1
            return None
        fault.remaining -= 1
        return _Http(), {
            "Error": {"Code": fault.code, "Message": fault.message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    def install(self, session_events: Any, changes: ProcessChanges) -> None:
        """Register the hook on a session's event system; unregistered when ``changes`` are restored."""
        hook = self.before_call
        session_events.register("before-call", hook)
        changes.on_restore(lambda: session_events.unregister("before-call", hook))
