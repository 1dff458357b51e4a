"""Fault injection (tests, demos, the chaos benchmark): the handlers' AWS calls and git fetches and pushes fail.

Three seams, installed by the local stack and removed when it stops:

- boto3's default session: a ``before-call`` hook answers a chosen call itself, with an error response as the
  service would (throttling), or raises a connect timeout (the call never reached the service); an
  ``after-call`` hook raises botocore's ``ReadTimeoutError`` after the real call took effect (a lost reply);
- the GitOps adapter's git client: a TCP reset on fetch, or on push before it is sent or after it reached the
  remote (the push landed, the reply was lost);
- the Lambda runtime: each invocation is noted (function, payload) for the thread running it, so rules fire
  only inside handlers and can be aimed at one tenant (``match``: a string of the invocation's payload; for git,
  of the paths fetched or committed, since a batching writer pushes other tenants' changes too).

``inject`` keeps the first interface: every call of ``service.operation`` (in handlers or not) answered with a code.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges

THROTTLE = "throttle"  # the service answers with its throttling code
TIMEOUT_BEFORE = "timeout-before"  # a connect timeout: the call never took effect
LOST_REPLY = "lost-reply"  # the call took effect, then a read timeout
RESET_BEFORE = "reset-before"  # git: connection reset before the push was sent (or during a fetch)
RESET_AFTER = "reset-after"  # git: the push reached the remote, then the connection was reset
AWS_KINDS = (THROTTLE, TIMEOUT_BEFORE, LOST_REPLY)
GIT_KINDS = (RESET_BEFORE, RESET_AFTER)
ERROR = "error:"  # "error:ValidationException": the service answers with that code (a permanent failure)
GIT_FETCH, GIT_PUSH = "git.fetch", "git.push"
THROTTLE_CODES = {"dynamodb": "ProvisionedThroughputExceededException", "s3": "SlowDown"}


@dataclass
class Fault:
    code: str
    remaining: int
    skip: int = 0
    message: str = "injected by the local stack"


@dataclass
class Rule:
    """``times`` calls of ``target`` ("dynamodb.UpdateItem", "git.push"), after ``after`` matching calls
    succeeded, fail with ``kind``; only in handlers, and only when ``match`` is in the invocation's payload
    and ``function`` (a logical name) runs it, when given."""

    target: str
    kind: str
    times: int = 1
    after: int = 0
    match: str | None = None
    function: str | None = None


@dataclass
class Chaos:
    rate: float
    rng: random.Random
    aws_kinds: tuple[str, ...] = AWS_KINDS
    git_kinds: tuple[str, ...] = GIT_KINDS


class _Http:
    status_code = 400
    headers: dict[str, str] = {}
    content = b""
    text = ""


def _error(code: str, message: str) -> tuple[_Http, dict[str, Any]]:
    return _Http(), {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}


class FaultInjector:
    def __init__(self) -> None:
        self.faults: dict[str, Fault] = {}
        self.rules: list[Rule] = []
        self.chaos: Chaos | None = None
        self.fired: Counter[tuple[str, str]] = Counter()  # (target, kind) -> faults injected
        self.calls: Counter[tuple[str, str]] = Counter()  # (function, target) -> calls seen inside handlers
        self._lock = threading.Lock()
        self._local = threading.local()
        self.armed = False  # the runtime and git seams installed (arm)

    # ------------------------------------------------------------------ configuring
    def inject(self, service: str, operation: str, code: str, times: int = 1, after: int = 0) -> None:
        """Make ``times`` calls of ``service:operation`` fail with ``code``, after ``after`` succeed."""
        self.faults[f"{service}.{operation}"] = Fault(code=code, remaining=times, skip=after)

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def start_chaos(self, rate: float, seed: int) -> None:
        """Every call in a handler (AWS, git fetch and push) fails with probability ``rate``, of a random kind."""
        self.chaos = Chaos(rate=rate, rng=random.Random(seed))

    def configured(self) -> bool:
        """Whether any fault, rule or chaos was ever set (handlers then run in the stack's own process)."""
        return self.armed or bool(self.faults or self.rules or self.chaos)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.rules.clear()
            self.chaos = None

    # ------------------------------------------------------------------ deciding
    def _invocation(self) -> tuple[str, str] | None:
        current: tuple[str, str] | None = getattr(self._local, "invocation", None)
        return current

    def decide(self, target: str, kinds: tuple[str, ...]) -> str | None:
        """The fault for this call of ``target`` inside a handler, if any (a rule first, then chaos)."""
        invocation = self._invocation()
        if invocation is None:
            return None
        function, payload = invocation
        if target.startswith("git."):  # a batching writer pushes other tenants' changes: match the paths
            payload = getattr(self._local, "git_paths", "")
        chosen: str | None = None
        with self._lock:
            self.calls[(function, target)] += 1
            for rule in self.rules:
                if rule.times <= 0 or rule.target != target or not (rule.kind in kinds or rule.kind.startswith(ERROR)):
                    continue
                if (rule.match and rule.match not in payload) or (rule.function and rule.function != function):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                rule.times -= 1
                self.fired[(target, rule.kind)] += 1
                chosen = chosen or rule.kind
                if not target.startswith("git."):
                    return chosen
                # one push carries a batch of tenants: every rule aimed at one of them has met its fault
            if chosen is not None:
                return chosen
            chaos = self.chaos
            if chaos is not None and chaos.rng.random() < chaos.rate:
                pool = tuple(
                    k for k in (chaos.git_kinds if target.startswith("git.") else chaos.aws_kinds) if k in kinds
                )
                if pool:
                    kind = chaos.rng.choice(pool)
                    self.fired[(target, kind)] += 1
                    return kind
        return None

    # ------------------------------------------------------------------ boto3 hooks
    def before_call(self, model: Any, context: dict[str, Any] | None = None, **_: Any) -> Any:
        service = model.service_model.endpoint_prefix
        target = f"{service}.{model.name}"
        fault = self.faults.get(target)
        if fault is not None and fault.remaining > 0:
            if fault.skip > 0:
                fault.skip -= 1
            else:
                fault.remaining -= 1
                return _error(fault.code, fault.message)
        kind = self.decide(target, AWS_KINDS)
        if kind is not None and kind.startswith(ERROR):
            return _error(kind.removeprefix(ERROR), "injected by the local stack")
        if kind == THROTTLE:
            return _error(THROTTLE_CODES.get(service, "ThrottlingException"), "Rate exceeded (injected)")
        if kind == TIMEOUT_BEFORE:
            from botocore.exceptions import ConnectTimeoutError

            raise ConnectTimeoutError(endpoint_url=f"https://{service}.local (injected)")
        if kind == LOST_REPLY and context is not None:
            context["local_fault_lost_reply"] = True
        return None

    def after_call(self, http_response: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
        if context is not None and context.pop("local_fault_lost_reply", False) and http_response.status_code < 300:
            from botocore.exceptions import ReadTimeoutError

            raise ReadTimeoutError(endpoint_url="the service (injected: the call took effect, its reply was lost)")

    # ------------------------------------------------------------------ installing
    def install(self, session_events: Any, changes: ProcessChanges) -> None:
        """Register the hooks on a session's event system; unregistered when ``changes`` are restored."""
        before, after = self.before_call, self.after_call
        session_events.register("before-call", before)
        session_events.register("after-call", after)
        changes.on_restore(lambda: session_events.unregister("before-call", before))
        changes.on_restore(lambda: session_events.unregister("after-call", after))

    def install_runtime(self, runtime: Any, changes: ProcessChanges) -> None:
        """Note, for the thread running it, which handler is invoked with what payload."""
        real = runtime.invoke
        local = self._local

        def invoke(name: str, payload: Any) -> Any:
            previous = getattr(local, "invocation", None)
            local.invocation = (name, json.dumps(payload, default=str))
            try:
                return real(name, payload)
            finally:
                local.invocation = previous

        changes.patch(runtime, "invoke", invoke)

    def install_git(self, changes: ProcessChanges) -> None:
        """Wrap the GitOps adapter's git client: fetches and pushes consult the injector."""
        from onboarding.adapters import git

        real = git.DulwichGitOpsRepository._client
        injector = self

        def client(repo: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            inner, path = real(repo, *args, **kwargs)
            return _FaultyGitClient(inner, injector), path

        changes.patch(git.DulwichGitOpsRepository, "_client", client)
        local = self._local
        for method in ("snapshot", "commit"):
            real_method = getattr(git.DulwichGitOpsRepository, method)

            def noting(repo: Any, *args: Any, _real: Any = real_method, **kwargs: Any) -> Any:
                # snapshot(paths), commit(base, changes, message)
                paths = kwargs.get("paths", args[0]) if _real.__name__ == "snapshot" else kwargs.get("changes", args[1])
                local.git_paths = json.dumps(sorted(paths))
                try:
                    return _real(repo, *args, **kwargs)
                finally:
                    local.git_paths = ""

            changes.patch(git.DulwichGitOpsRepository, method, noting)


class _FaultyGitClient:
    def __init__(self, inner: Any, injector: FaultInjector) -> None:
        self._inner, self._injector = inner, injector

    def fetch(self, *args: Any, **kwargs: Any) -> Any:
        if self._injector.decide(GIT_FETCH, (RESET_BEFORE,)) is not None:
            raise ConnectionResetError(104, "Connection reset by peer (injected)")
        return self._inner.fetch(*args, **kwargs)

    def send_pack(self, *args: Any, **kwargs: Any) -> Any:
        kind = self._injector.decide(GIT_PUSH, GIT_KINDS)
        if kind == RESET_AFTER:
            self._inner.send_pack(*args, **kwargs)
        if kind is not None:
            raise ConnectionResetError(104, "Connection reset by peer (injected)")
        return self._inner.send_pack(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def arm(stack: Any) -> FaultInjector:
    """The running stack's injector, with the runtime and git seams installed too (once; removed with the stack)."""
    injector: FaultInjector = stack._faults
    if not injector.armed:
        injector.install_runtime(stack.runtime, stack._changes)
        injector.install_git(stack._changes)
        injector.armed = True
    return injector
