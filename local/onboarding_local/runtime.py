"""Runs the real handlers in-process, as Lambda would: one module per function, its own environment.

Invocations are serialized by one lock: Lambda isolates concurrent invocations in separate
sandboxes, and the closest in-process equivalent is to never let two share the interpreter's
environment and Powertools' per-process state at once. A handler that waits (``onboarding.runtime.pause``,
the batching GitOps writer waiting for its batch) gives the lock up meanwhile, so other invocations run
as they would in their own sandboxes; its function's environment is put back before it resumes.

With ``workers`` above 0 the handlers run in that many worker processes instead (workers.py), forked once the
functions are loaded, so that a burst uses more than one core; each worker runs its invocations as described
above. Invocations still run here while ``in_process_only()`` is true (the stack's fault injection is
configured: its rules and counters live in this process).

What the runtime changes for the process (the functions' environment variables, the handler log
streams) is undone by ``close()``, which also stops the workers.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onboarding_local.processwide import ProcessChanges
from onboarding_local.template import ACCOUNT, REGION, Template

if TYPE_CHECKING:
    from onboarding_local.workers import WorkerPool


@dataclass
class FunctionSpec:
    name: str
    handler: Callable[..., Any]
    environment: dict[str, str]
    timeout: int
    dead_letter_arn: str | None


class LambdaContext:
    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    function: str
    payload: Any
    error_type: str | None
    duration_ms: float
    result: Any = None  # what the handler returned (or the error payload), as Lambda would serialize it


class LambdaRuntime:
    def __init__(self, template: Template, base_env: dict[str, str], log_path: Path, workers: int = 0) -> None:
        self.template = template
        self.workers = workers  # handler worker processes (0: every invocation runs in this process)
        self.in_process_only: Callable[[], bool] = lambda: False
        self._pool: WorkerPool | None = None
        self._record_lock = threading.Lock()
        self.base_env = base_env
        self.functions: dict[str, FunctionSpec] = {}
        self.invocations: list[Invocation] = []
        self.counts: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._current = threading.local()  # the function this thread's invocation runs
        self.paused_ms: dict[str, float] = {}  # per function: time its invocations paused (others ran)
        self._log_path = log_path
        self._changes = ProcessChanges()

    def load(self) -> None:
        common = self.template.function_environment(next(iter(self.template.of_type("AWS::Serverless::Function"))))
        self._changes.setenv({**self.base_env, **common})  # what the modules see at import (init phase)
        for logical, resource in self.template.of_type("AWS::Serverless::Function").items():
            props = resource["Properties"]
            handler_ref = self.template.function_property(logical, "Handler")
            module_name, func_name = handler_ref.rsplit(".", 1)
            source = self.template.root / props["CodeUri"] / f"{module_name.replace('.', '/')}.py"
            spec = importlib.util.spec_from_file_location(f"lambda_{logical}", source)
            assert spec and spec.loader, source
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            dlq = (props.get("DeadLetterQueue") or {}).get("TargetArn")
            self.functions[logical] = FunctionSpec(
                name=logical,
                handler=getattr(module, func_name),
                environment=self.template.function_environment(logical),
                timeout=int(self.template.function_property(logical, "Timeout") or 3),
                dead_letter_arn=self.template.resolve(dlq) if dlq else None,
            )
        self._redirect_logs()
        self._install_environment()
        if self.workers > 0:
            from onboarding_local.workers import WorkerPool

            self._pool = WorkerPool(self, self.workers)
            self._changes.on_restore(self._close_pool)

    def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def worker_cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the worker processes (0 without workers)."""
        pool = self._pool
        return pool.cpu_seconds() if pool is not None else 0.0

    def _install_environment(self) -> None:
        """Give the process one environment for every function, set once.

        Other threads (moto's engine, the router, the CLI) read ``os.environ`` while handlers run;
        adding or removing keys under them fails their iteration. So the union of the functions'
        variables is set once, here, and an invocation only reassigns the few values that differ
        between functions. tests/template checks each function's settings against its own
        template environment, which is what Lambda gives it on AWS.
        """
        union: dict[str, str] = dict(self.base_env)
        self._differing: set[str] = set()
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                if key in union and union[key] != value:
                    self._differing.add(key)
                union.setdefault(key, value)
        self._changes.setenv(union)

    def _redirect_logs(self) -> None:
        """Handler logs go to the work dir, not the terminal (Powertools writes JSON lines)."""
        from onboarding.observability import logger

        stream = self._log_path.open("a", encoding="utf-8")
        self._changes.on_restore(stream.close)  # closed once the handlers write where they wrote before
        for handler in logging.getLogger(logger.name).handlers:
            if isinstance(handler, logging.StreamHandler):
                self._changes.set_stream(handler, stream)

    def close(self) -> None:
        """Put back the environment variables and log streams as they were before ``load()``.

        Taken under the invocation lock, so a handler still running finishes with its environment first.
        """
        pool, self._pool = self._pool, None  # the workers first: invocations under way there finish
        if pool is not None:
            pool.close()
        with self._lock:
            self._changes.restore()

    def invoke(self, name: str, payload: Any) -> tuple[Any, str | None]:
        """Run the handler; returns (result, None) or (error payload, errorType)."""
        if name not in self.functions:
            return {"errorType": "ResourceNotFoundException", "errorMessage": f"Function not found: {name}"}, (
                "ResourceNotFoundException"
            )
        pool = self._pool
        if pool is not None and not self.in_process_only():
            result, error_type, elapsed, paused = pool.invoke(name, payload)
        else:
            result, error_type, elapsed, paused = self.run_here(name, payload)
        with self._record_lock:
            self.counts[name] += 1
            self.invocations.append(Invocation(name, payload, error_type, elapsed, result))
            if paused:
                self.paused_ms[name] = self.paused_ms.get(name, 0.0) + paused
        return result, error_type

    def run_here(self, name: str, payload: Any) -> tuple[Any, str | None, float, float]:
        """Run the handler in this process: (result or error payload, errorType or None, duration ms, paused ms)."""
        spec = self.functions[name]
        with self._lock:
            for key in self._differing & spec.environment.keys():
                os.environ[key] = spec.environment[key]  # reassign only: the key set never changes
            started = time.perf_counter()
            self._current.spec = spec
            self._current.paused_ms = 0.0
            error_type = None
            try:
                result = spec.handler(payload, LambdaContext(spec))
                result = json.loads(json.dumps(result))  # what Lambda would serialize
            except Exception as exc:  # noqa: BLE001 - reported to the caller as Lambda does
                error_type = type(exc).__name__
                result = {
                    "errorType": error_type,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-6:],
                }
            self._current.spec = None
            elapsed = (time.perf_counter() - started) * 1000
            return result, error_type, elapsed, self._current.paused_ms

    def pause(self, seconds: float) -> None:
        """``onboarding.runtime.pause`` inside an invocation: other invocations run until it resumes."""
        spec: FunctionSpec | None = getattr(self._current, "spec", None)
        if spec is None:  # not inside an invocation of this runtime
            time.sleep(seconds)
            return
        started = time.perf_counter()
        self._lock.release()
        try:
            time.sleep(seconds)
        finally:
            self._lock.acquire()
            for key in self._differing & spec.environment.keys():
                os.environ[key] = spec.environment[key]
            self._current.spec = spec
            self._current.paused_ms = getattr(self._current, "paused_ms", 0.0) + (time.perf_counter() - started) * 1000
