"""Fakes for the batching GitOps writer: the queue in memory (thread-safe, the adapter's semantics) and a clock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from onboarding.batch_queue import PendingChange, Settled, Withdrawal


@dataclass
class Claim:
    flush: str
    until: float
    at: float
    revoked: bool = False


class InMemoryGitOpsQueue:
    """onboarding.batching.GitOpsQueue with DynamoGitOpsQueue's semantics, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.changes: dict[str, PendingChange] = {}  # pending (unclaimed or claimed), by ticket
        self.claims: dict[str, Claim] = {}  # by ticket: the claim on a pending change (kept when revoked)
        self.results: dict[str, Settled] = {}
        self.bases: dict[str, str | None] = {}  # by flush: the base it last recorded before a push
        self.lease: tuple[str, float] | None = None  # owner, until
        self.flushes: list[list[str]] = []  # the tickets of each settle() call, in order

    def enqueue(self, change: PendingChange, now: float) -> None:
        with self._lock:
            claim = self.claims.get(change.ticket)
            if claim is not None and not claim.revoked and claim.until >= now:
                return  # a live flush holds it: its outcome is the change's
            self.claims.pop(change.ticket, None)
            self.results.pop(change.ticket, None)
            self.changes[change.ticket] = change

    def _claimable(self, ticket: str, now: float) -> bool:
        claim = self.claims.get(ticket)
        return ticket in self.changes and (claim is None or (not claim.revoked and claim.until < now))

    def pending(self, limit: int, now: float) -> list[PendingChange]:
        with self._lock:
            claimable = [c for c in self.changes.values() if self._claimable(c.ticket, now)]
            return sorted(claimable, key=lambda c: (c.enqueued_at, c.ticket))[:limit]

    def claim(self, changes: Sequence[PendingChange], flush: str, now: float, until: float) -> list[str]:
        with self._lock:
            claimed = []
            for change in changes:
                current = self.changes.get(change.ticket)
                if (
                    current is not None
                    and current.enqueued_at == change.enqueued_at
                    and self._claimable(change.ticket, now)
                ):
                    self.claims[change.ticket] = Claim(flush, until, now)
                    claimed.append(change.ticket)
            return claimed

    def pushing(self, flush: str, base: str | None, tickets: Sequence[str]) -> set[str]:
        with self._lock:
            self.bases[flush] = base
            return {t for t in tickets if (c := self.claims.get(t)) is not None and c.flush == flush and not c.revoked}

    def settle(self, flush: str, results: Sequence[Settled]) -> None:
        with self._lock:
            done = []
            for result in results:
                claim = self.claims.get(result.ticket)
                if claim is None or claim.flush != flush:
                    continue  # withdrawn, re-enqueued or claimed again by another flush
                self.changes.pop(result.ticket, None)
                self.claims.pop(result.ticket)
                self.results[result.ticket] = result
                done.append(result.ticket)
            self.flushes.append(done)

    def settled(self, ticket: str) -> Settled | None:
        with self._lock:
            return self.results.get(ticket)

    def withdraw(self, ticket: str) -> Withdrawal:
        with self._lock:
            if ticket not in self.changes:
                return Withdrawal("gone")
            claim = self.claims.get(ticket)
            if claim is None:
                del self.changes[ticket]
                return Withdrawal("withdrawn")
            claim.revoked = True
            pushing = claim.flush in self.bases
            return Withdrawal("revoked", claim.flush, claim.at, pushing, self.bases.get(claim.flush))

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
