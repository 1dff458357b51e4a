"""Fakes for the batching GitOps writer: the queue in memory (thread-safe, the adapter's semantics) and a clock."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from onboarding.batching import PendingChange, Settled


class InMemoryGitOpsQueue:
    """onboarding.batching.GitOpsQueue with DynamoGitOpsQueue's semantics, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.changes: dict[str, PendingChange] = {}  # pending, by ticket
        self.results: dict[str, Settled] = {}
        self.lease: tuple[str, float] | None = None  # owner, until
        self.flushes: list[list[str]] = []  # the tickets of each settle() call, in order

    def enqueue(self, change: PendingChange) -> None:
        with self._lock:
            self.results.pop(change.ticket, None)
            self.changes[change.ticket] = change

    def pending(self, limit: int) -> list[PendingChange]:
        with self._lock:
            return sorted(self.changes.values(), key=lambda c: (c.enqueued_at, c.ticket))[:limit]

    def settled(self, ticket: str) -> Settled | None:
        with self._lock:
            return self.results.get(ticket)

    def settle(self, results: Sequence[Settled]) -> None:
        with self._lock:
            for result in results:
                self.changes.pop(result.ticket, None)
                self.results[result.ticket] = result
            self.flushes.append([r.ticket for r in results])

    def withdraw(self, ticket: str) -> bool:
        with self._lock:
            return self.changes.pop(ticket, None) is not None

    def acquire(self, owner: str, now: float, seconds: float) -> bool:
        with self._lock:
            if self.lease is not None and self.lease[1] >= now:
                return False
            self.lease = (owner, now + seconds)
            return True

    def release(self, owner: str) -> None:
        with self._lock:
            if self.lease is not None and self.lease[0] == owner:
                self.lease = None


class FakeClock:
    """A clock that moves only when someone pauses: waits without sleeping, deterministic."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.paused: list[float] = []

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.paused.append(seconds)
        self.now += seconds
