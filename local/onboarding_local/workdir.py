"""Who holds a work dir, and what a new holder starts from.

``run`` and ``serve`` each hold the work dir's lock while they work: a file ``lock`` with the holder's pid,
command and start time, locked with ``flock``. The kernel releases an ``flock`` when its process dies, so a
lock file left by a killed process is stale whatever its pid says now (a pid can be reused), and the next
``run`` or ``serve`` takes it over. The pid and command are there to tell the operator who holds it.

A ``serve`` writes ``endpoint`` while it runs; ``tenants`` and ``releases`` read the live stack through it.
An endpoint file is live only while its work dir's lock is held: one left by a killed ``serve`` is seen as
stale at once, without a connection attempt.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

LOCK_FILE = "lock"
ENDPOINT_FILE = "endpoint"  # written by `serve` while it runs
# What the stack keeps on disk between two holders: the GitOps remote, the handler log, Flux's rendering
# state. Each start makes the tables (moto, in memory) empty, so these are made empty too.
FRESH_PATHS = ("git", "flux", "lambda.log")


class WorkdirBusy(SystemExit):
    """Another live ``run`` or ``serve`` holds the work dir (exits 1 with the holder named)."""


def holder(workdir: Path) -> dict[str, Any] | None:
    """The live holder of ``workdir``'s lock ({pid, command, since}), or None when none holds it."""
    path = workdir / LOCK_FILE
    try:
        handle = path.open("r+", encoding="utf-8")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(handle) or {"pid": None, "command": "?", "since": "?"}
        fcntl.flock(handle, fcntl.LOCK_UN)  # nobody holds it: a stale file
        return None


def _read(handle: IO[str]) -> dict[str, Any] | None:
    handle.seek(0)
    try:
        data = json.loads(handle.read() or "null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def describe(info: dict[str, Any]) -> str:
    return f"`onboarding-local {info.get('command')}` (pid {info.get('pid')}, since {info.get('since')})"


@contextlib.contextmanager
def hold(workdir: Path, command: str) -> Iterator[dict[str, Any] | None]:
    """Hold ``workdir``'s lock for ``command`` while the block runs; WorkdirBusy if a live process holds it.

    Yields the stale lock's content when it took one over (its holder died), else None.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / LOCK_FILE
    handle = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read(handle) or {"pid": None, "command": "?", "since": "?"}
            raise WorkdirBusy(
                f"onboarding-local: {workdir} is in use by {describe(info)}: stop it first, or use another --workdir"
            ) from None
        stale = _read(handle)
        handle.seek(0)
        handle.truncate()
        info = {"pid": os.getpid(), "command": command, "since": datetime.now(UTC).isoformat(timespec="seconds")}
        handle.write(json.dumps(info))
        handle.flush()
        try:
            yield stale
        finally:
            handle.seek(0)
            handle.truncate()
            path.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def fresh_start(workdir: Path) -> None:
    """Empty what a previous holder left on disk, so that the new stack's GitOps repository, Flux state and
    handler log start as empty as its tables. A leftover endpoint file (its serve is gone) goes too."""
    for name in FRESH_PATHS:
        path = workdir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    (workdir / ENDPOINT_FILE).unlink(missing_ok=True)


def live_endpoint(workdir: Path) -> str | None:
    """The endpoint of the ``serve`` running in ``workdir``; None when there is no endpoint file.

    SystemExit with one line when the file is stale: its ``serve`` no longer holds the work dir.
    """
    path = workdir / ENDPOINT_FILE
    try:
        endpoint = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    info = holder(workdir)
    if info is None or info.get("command") != "serve":
        raise SystemExit(
            f"onboarding-local: {path} is stale: the serve that wrote it ({endpoint}) is gone; "
            "start `onboarding-local serve` again, or delete the file to read the last run's state"
        )
    return endpoint
