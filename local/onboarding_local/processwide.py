"""Process-wide changes, recorded so that they can be undone.

The local stack runs inside its caller's process (a test, the benchmark, the CLI). What it changes for
the whole process while it runs (environment variables, moto's classes, boto3's default session, logger
levels and streams, event hooks) is recorded here as it is made and put back, the latest first, when the
stack stops: the code that runs next in that process sees what it saw before.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

_ABSENT = object()


def _restore_env(key: str, previous: str | None) -> None:
    if previous is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = previous


def _restore_attr(owner: Any, name: str, previous: Any) -> None:
    if previous is _ABSENT:
        delattr(owner, name)
    else:
        setattr(owner, name, previous)


class ProcessChanges:
    """An undo log of process-wide changes; ``restore()`` undoes them all, the latest first."""

    def __init__(self) -> None:
        self._undo = contextlib.ExitStack()  # runs every callback even when one of them raises
        self._env_saved: set[str] = set()

    def setenv(self, values: Mapping[str, str]) -> None:
        """Set environment variables; each key's value (or absence) before its first change is restored."""
        for key, value in values.items():
            if key not in self._env_saved:
                self._env_saved.add(key)
                self._undo.callback(_restore_env, key, os.environ.get(key))
            os.environ[key] = value

    def patch(self, owner: Any, name: str, value: Any) -> Any:
        """Set ``owner.name`` (a class's method, a module's global) and return what it was before.

        What is restored is the owner's own attribute, so a method a class inherited is inherited again.
        """
        previous = getattr(owner, name, None)
        self._undo.callback(_restore_attr, owner, name, vars(owner).get(name, _ABSENT))
        setattr(owner, name, value)
        return previous

    def set_level(self, logger_name: str, level: int) -> None:
        logger = logging.getLogger(logger_name)
        self._undo.callback(logger.setLevel, logger.level)
        logger.setLevel(level)

    def set_stream(self, handler: logging.StreamHandler[Any], stream: Any) -> None:
        self._undo.callback(_swap_stream, handler, handler.stream)
        _swap_stream(handler, stream)

    def on_restore(self, undo: Callable[[], object]) -> None:
        """Run ``undo`` on restore, in its place in the order (for changes made some other way)."""
        self._undo.callback(undo)

    def restore(self) -> None:
        """Undo every recorded change, the latest first. A second call does nothing."""
        try:
            self._undo.close()
        finally:
            self._env_saved.clear()


def _swap_stream(handler: logging.StreamHandler[Any], stream: Any) -> None:
    """Point ``handler`` at ``stream``; a stream already closed under it (an earlier stack's log) is not flushed."""
    if getattr(handler.stream, "closed", False):
        handler.acquire()
        try:
            handler.stream = stream
        finally:
            handler.release()
    else:
        handler.setStream(stream)


@contextlib.contextmanager
def applied(install: Callable[[ProcessChanges], None]) -> Iterator[None]:
    """``install``'s changes for the duration of a ``with`` block (for code on plain moto: tests, benchmarks)."""
    changes = ProcessChanges()
    install(changes)
    try:
        yield
    finally:
        changes.restore()
