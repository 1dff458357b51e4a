"""Handler worker processes: the real handlers run in processes of their own, so that a burst uses both cores.

Everything else of the local stack (moto's server and Step Functions engine, the event router, the Flux emulator,
the function URLs) stays in the stack's process, under one GIL; the handlers and their SDK calls (about a third
of a burst's Python CPU) move to ``size`` worker processes. A worker is forked from the stack's process as the
runtime has loaded the functions (their modules imported: Lambda's init phase, done once), before any of them ran
or made a connection, and before any other part of the stack started a thread that could hold a lock meanwhile.

A worker is a Lambda sandbox host as the in-process runtime is one: it serves any number of invocations at once,
each in a thread of its own, one running at a time under the runtime's lock; a handler that waits
(``onboarding.runtime.pause``: the batching GitOps writer waiting for its batch) lets the others run. The
handlers' AWS calls go to moto's server over HTTP, as they do in-process, and everything they share goes through
it (the GitOps queue and lease are DynamoDB items) or through the git daemon.

The stack's process keeps the record (``runtime.invocations``, counts, paused time): a worker answers each
invocation with the handler's result or error payload, its duration and the time it paused.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import os
import resource
import signal
import sys
import threading
import traceback
from concurrent.futures import Future
from multiprocessing.connection import Connection, Pipe
from typing import TYPE_CHECKING, Any

from onboarding_local.warm import GC_YOUNG_THRESHOLD

if TYPE_CHECKING:
    from onboarding_local.runtime import LambdaRuntime

_CPU = "cpu"  # a request for the worker's own CPU seconds
STOP_SECONDS = 5.0  # a worker not gone this long after being told to stop is killed


class Worker:
    """One forked worker process and the stack-side end of its pipe."""

    def __init__(self, runtime: LambdaRuntime) -> None:
        ours, theirs = Pipe(duplex=True)
        _flush_streams()  # what is buffered now would be written twice, once by each process
        pid = os.fork()
        if pid == 0:  # the worker: it never returns from here
            status = 1
            try:
                ours.close()
                _serve(runtime, theirs)
                status = 0
            finally:
                _flush_streams()
                os._exit(status)
        theirs.close()
        self.pid = pid
        self._conn = ours
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count()
        self.alive = True  # False once its pipe is closed: the worker exited or was killed
        self._reader = threading.Thread(target=self._read, name=f"handler-worker-{pid}", daemon=True)
        self._reader.start()

    @property
    def load(self) -> int:
        with self._pending_lock:
            return len(self._pending)

    def call(self, *request: Any) -> Any:
        if not self.alive:
            raise RuntimeError(f"handler worker {self.pid} is gone")
        future: Future[Any] = Future()
        with self._pending_lock:
            number = next(self._ids)
            self._pending[number] = future
        try:
            with self._send_lock:
                self._conn.send((number, *request))
        except (OSError, EOFError) as exc:
            with self._pending_lock:
                self._pending.pop(number, None)
            raise RuntimeError(f"handler worker {self.pid} is gone") from exc
        return future.result()

    def _read(self) -> None:
        while True:
            try:
                number, answer = self._conn.recv()
            except (EOFError, OSError):
                break
            with self._pending_lock:
                future = self._pending.pop(number, None)
            if future is not None:
                future.set_result(answer)
        with self._pending_lock:  # the worker died: nothing more will be answered
            self.alive = False
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(RuntimeError(f"handler worker {self.pid} exited"))

    def stop(self) -> None:
        with contextlib.suppress(OSError), self._send_lock:
            self._conn.send(None)
        self._reader.join(timeout=STOP_SECONDS)
        if self._reader.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self._conn.close()


class WorkerPool:
    """``size`` worker processes; an invocation goes to the one with the fewest in flight."""

    def __init__(self, runtime: LambdaRuntime, size: int) -> None:
        self._runtime = runtime
        self.answered = 0  # invocations a worker process ran and answered
        self._answered_lock = threading.Lock()
        self.workers: list[Worker] = []
        try:
            for _ in range(size):
                self.workers.append(Worker(runtime))
        except BaseException:
            self.close()
            raise

    def invoke(self, name: str, payload: Any) -> tuple[Any, str | None, float, float]:
        """(result or error payload, errorType or None, duration ms, paused ms), as the runtime runs it."""
        answer: tuple[Any, str | None, float, float]
        alive = [w for w in self.workers if w.alive]
        if not alive:  # every worker died (killed from outside): the stack's process runs the handlers again
            answer = self._runtime.run_here(name, payload)
            return answer
        answer = min(alive, key=lambda w: w.load).call("invoke", name, payload)
        with self._answered_lock:
            self.answered += 1
        return answer

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the workers have used so far."""
        return sum(float(w.call(_CPU)) for w in self.workers if w.alive)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []


def _serve(runtime: LambdaRuntime, conn: Connection) -> None:
    """The worker's loop: each invocation in a thread of its own, answered on ``conn``; None stops it."""
    gc.freeze()  # the forked heap (modules, the loaded functions) stays out of the collector's scans
    threshold = gc.get_threshold()  # and young collections are as rare as in the stack's process (warm.py)
    gc.set_threshold(max(threshold[0], GC_YOUNG_THRESHOLD), *threshold[1:])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the stack, which stops its workers
    logging.raiseExceptions = False
    send_lock = threading.Lock()
    threads: list[threading.Thread] = []

    def answer(number: int, value: Any) -> None:
        with send_lock:
            conn.send((number, value))

    def run(number: int, name: str, payload: Any) -> None:
        try:
            value: Any = runtime.run_here(name, payload)
        except BaseException as exc:  # noqa: BLE001 - the runtime itself failed: reported as Lambda would
            value = ({"errorType": type(exc).__name__, "errorMessage": str(exc),
                      "stackTrace": traceback.format_exception(exc)[-6:]}, type(exc).__name__, 0.0, 0.0)  # fmt: skip
        try:
            answer(number, value)
        except OSError:
            pass  # the stack's end is closed: it is stopping
        except Exception as exc:  # noqa: BLE001 - an answer that cannot be sent (pickled) is a failed invocation
            failed = {"errorType": type(exc).__name__, "errorMessage": f"the handler's answer cannot be sent: {exc}"}
            with contextlib.suppress(OSError):
                answer(number, (failed, type(exc).__name__, 0.0, 0.0))

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        number, kind, *args = message
        if kind == _CPU:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            answer(number, usage.ru_utime + usage.ru_stime)
            continue
        thread = threading.Thread(target=run, args=(number, *args), daemon=True)
        thread.start()
        threads = [t for t in threads if t.is_alive()] + [thread]
    for thread in threads:  # invocations under way finish before the worker exits
        thread.join(timeout=STOP_SECONDS)


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    for handler in logging.getLogger().handlers + [
        h for logger in list(logging.Logger.manager.loggerDict.values()) if isinstance(logger, logging.Logger)
        for h in logger.handlers
    ]:  # fmt: skip
        with contextlib.suppress(Exception):
            handler.flush()
