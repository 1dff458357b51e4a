"""What the batching GitOps writer (onboarding.batching) keeps in its queue, and the queue's protocol.

A pending change is one tenant's desired files, keyed by a ticket (the tenant and its execution); a flush
claims it, pushes it, and settles it with the commit that carries it or the batch's error. DynamoDB keeps
them on AWS (onboarding.adapters.dynamodb.gitops_queue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from onboarding.payloads import GitOpsChange


@dataclass(frozen=True)
class PendingChange:
    """One tenant's desired files (None = absent), waiting for a batch."""

    ticket: str
    tenant_id: str
    files: Mapping[str, bytes | None]
    message: str
    enqueued_at: float  # epoch seconds


@dataclass(frozen=True)
class Settled:
    """What became of a pending change: the commit carrying its files, or the batch's error."""

    ticket: str
    batch: str
    change: GitOpsChange | None
    error: str | None = None  # the error class name, as Lambda would report it
    cause: str | None = None


@dataclass(frozen=True)
class Withdrawal:
    """What a writer that gives up found its change in.

    ``withdrawn``: it was pending and unclaimed, and is gone: no batch pushed or will push it.
    ``revoked``: a flush had claimed it; the claim is revoked (no later check of that flush passes), and
    ``pushing`` tells whether that flush had recorded a base to push on (``base``: only a push on it can
    still carry the change). ``gone``: it is settled, or was never enqueued.
    """

    state: Literal["withdrawn", "revoked", "gone"]
    flush: str | None = None
    claimed_at: float | None = None
    pushing: bool = False
    base: str | None = None


class GitOpsQueue(Protocol):
    """Pending GitOps changes, their claims and outcomes, and the flusher's lease (DynamoDB on AWS)."""

    def enqueue(self, change: PendingChange, now: float) -> None:
        """Put the change as pending (again, for a retried ticket: its earlier outcome is dropped), unless a
        flush holds a live, unrevoked claim on it (then that flush's outcome is the change's)."""
        ...

    def pending(self, limit: int, now: float) -> list[PendingChange]:
        """Up to ``limit`` claimable changes (pending, unclaimed or whose claim expired), oldest first."""
        ...

    def claim(self, changes: Sequence[PendingChange], flush: str, now: float, until: float) -> list[str]:
        """Claim each change for ``flush`` until ``until`` if it is still the same pending change and unclaimed
        (or its claim expired); returns the tickets claimed."""
        ...

    def pushing(self, flush: str, base: str | None, tickets: Sequence[str]) -> set[str]:
        """Record that ``flush`` is about to push on ``base``, then return those of ``tickets`` it still holds
        (claimed by it, not revoked; a consistent read made after the record)."""
        ...

    def settle(self, flush: str, results: Sequence[Settled]) -> None:
        """Record each outcome, for the changes ``flush`` still claims (a revoked claim included)."""
        ...

    def settled(self, ticket: str) -> Settled | None:
        """The change's outcome, or None while it is pending (a consistent read)."""
        ...

    def withdraw(self, ticket: str) -> Withdrawal:
        """Drop the change if it is pending and unclaimed, else revoke its claim (see Withdrawal)."""
        ...

    def acquire(self, owner: str, now: float, seconds: float) -> bool:
        """Take the flusher's lease until ``now + seconds``, if it is free or expired."""
        ...

    def release(self, owner: str) -> None:
        """Free the lease if ``owner`` still holds it."""
        ...


class GitOpsWriter(Protocol):
    def write(self, ticket: str, tenant_id: str, desired: Mapping[str, bytes | None], message: str) -> GitOpsChange:
        """Make the branch hold ``desired``; returns the commit that carries it (shared with other tenants)."""
        ...


def ticket(tenant_id: str, execution: str) -> str:
    """A pending change's key: one per tenant and execution (a retried invocation re-enqueues the same one)."""
    return f"{tenant_id}#{execution}"
