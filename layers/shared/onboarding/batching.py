"""Group commit of GitOps writes: under a burst, many tenants' files go into one commit and one push.

Each writer (a CommitGitOps or UpdateGitOps invocation) enqueues its tenant's desired files as a pending
change, keyed by a ticket (the tenant and its execution), then either becomes the flusher by taking a
lease, or waits for its change to be settled. The flusher lets the oldest pending change wait a short
gather window, so that concurrent writers can enqueue, then takes every pending change (up to a bound,
oldest first; of two changes to one path only the older, the other goes into the next batch), writes
them with ``apply_files`` in one commit (the same fetch, re-apply and jittered retry as a single write)
and settles each change with that commit, or with the batch's failure. A writer whose change is
settled returns the commit that carries its files, or raises the batch's error: a failed batch fails
only its own tenants, which compensate or retry alone. A flusher that dies leaves its lease to expire;
a waiting writer then takes it over and flushes what is still pending (re-applying is idempotent).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from onboarding import errors
from onboarding.errors import GitOpsBatchFailed, GitOpsConflict, OnboardingError
from onboarding.gitops import apply_files
from onboarding.payloads import GitOpsChange
from onboarding.ports import GitOpsRepository


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


class GitOpsQueue(Protocol):
    """Pending GitOps changes, their outcomes, and the flusher's lease (DynamoDB on AWS)."""

    def enqueue(self, change: PendingChange) -> None:
        """Put the change as pending (again, for a retried ticket: its earlier outcome is dropped)."""
        ...

    def pending(self, limit: int) -> list[PendingChange]:
        """Up to ``limit`` pending changes, oldest first."""
        ...

    def settled(self, ticket: str) -> Settled | None:
        """The change's outcome, or None while it is pending (a consistent read)."""
        ...

    def settle(self, results: Sequence[Settled]) -> None: ...

    def withdraw(self, ticket: str) -> bool:
        """Drop the change if it is still pending; False when it was settled (or never enqueued)."""
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


@dataclass(frozen=True)
class BatchPolicy:
    gather_seconds: float = 1.0  # how long the oldest pending change waits for others before a flush
    max_changes: int = 500  # changes per commit
    lease_seconds: float = 20.0  # a flusher that dies holds the lease this long
    poll_seconds: float = 0.1  # how often a waiting writer first looks at its change (then less often, to 1 s)
    lease_retry_seconds: float = 0.5  # how often a waiting writer tries the lease (a write: polled less often)


@dataclass
class GroupCommitWriter:
    queue: GitOpsQueue
    repo: GitOpsRepository
    policy: BatchPolicy = field(default_factory=BatchPolicy)
    pause: Callable[[float], None] = time.sleep  # the local stack lets other handlers run meanwhile
    clock: Callable[[], float] = time.time
    apply: Callable[[GitOpsRepository, Mapping[str, bytes | None], str], GitOpsChange] = apply_files
    deadline: float = math.inf  # a clock() time: the invocation must answer before it
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    pushes: int = 0  # batches this writer pushed (for tests and benchmarks)

    def write(self, ticket: str, tenant_id: str, desired: Mapping[str, bytes | None], message: str) -> GitOpsChange:
        """Enqueue the tenant's files; return the commit of the batch that carries them once it is pushed.

        Past ``deadline`` the writer gives up with GitOpsConflict (transient: the state machine retries,
        which enqueues the same ticket again).
        """
        try:
            # inside: an enqueue whose reply was lost may have queued the change all the same
            self.queue.enqueue(PendingChange(ticket, tenant_id, dict(desired), message, self.clock()))
            return self._wait(ticket, tenant_id)
        except GitOpsConflict:
            raise  # past the deadline: already withdrawn
        except BaseException:
            # a queue call failed while waiting: the retry enqueues again, and compensation must not find a later
            # batch pushing this change behind its back
            self._withdraw(ticket)
            raise

    def _withdraw(self, ticket: str, attempts: int = 3) -> None:
        for attempt in range(1, attempts + 1):
            try:
                self.queue.withdraw(ticket)
                return
            except Exception:  # noqa: BLE001 - best effort; the error being raised is the one that matters
                if attempt == attempts:
                    return

    def _wait(self, ticket: str, tenant_id: str) -> GitOpsChange:
        try_lease_at, poll = self.clock(), self.policy.poll_seconds
        while True:
            result = self.queue.settled(ticket)
            if result is not None:
                return outcome(result)
            if self.clock() >= self.deadline:
                if not self.queue.withdraw(ticket) and (result := self.queue.settled(ticket)) is not None:
                    return outcome(result)  # settled just now
                # withdrawn: no later batch writes it behind the back of a retry or of compensation
                raise GitOpsConflict(f"the batch carrying {tenant_id}'s GitOps change was not pushed in time")
            if self.clock() >= try_lease_at:
                try_lease_at = self.clock() + self.policy.lease_retry_seconds
                if self.queue.acquire(self.owner, self.clock(), self.policy.lease_seconds):
                    try:
                        self._gather_and_flush()
                    finally:
                        self.queue.release(self.owner)
                    continue
            self.pause(poll)
            poll = min(1.0, poll * 1.5)

    def _gather_and_flush(self) -> None:
        pending = self.queue.pending(self.policy.max_changes)
        if not pending:
            return
        wait = pending[0].enqueued_at + self.policy.gather_seconds - self.clock()
        if wait > 0 and len(pending) < self.policy.max_changes:
            self.pause(wait)
            pending = self.queue.pending(self.policy.max_changes)
        self.flush(pending)

    def flush(self, pending: Sequence[PendingChange]) -> None:
        """Write ``pending`` (or those of it that touch distinct paths) in one commit, and settle each."""
        batch: list[PendingChange] = []
        taken: set[str] = set()
        for change in pending:
            if taken.isdisjoint(change.files):
                batch.append(change)
                taken.update(change.files)
        batch_id = uuid.uuid4().hex
        desired = {path: content for change in batch for path, content in change.files.items()}
        try:
            written = self.apply(self.repo, desired, batch_message(batch))
        except Exception as exc:  # noqa: BLE001 - whatever failed the batch fails each of its changes, named
            self.queue.settle([Settled(c.ticket, batch_id, None, type(exc).__name__, str(exc)) for c in batch])
            return
        if written.changed:
            self.pushes += 1
        self.queue.settle([Settled(c.ticket, batch_id, share(written, c)) for c in batch])


def share(written: GitOpsChange, change: PendingChange) -> GitOpsChange:
    """One tenant's part of a batch's commit: changed only if its own paths changed."""
    mine = sorted(set(written.paths) & set(change.files)) if written.changed else []
    if mine:
        return GitOpsChange(commit=written.commit, changed=True, paths=mine, committed_at=written.committed_at)
    return GitOpsChange(commit=written.commit, changed=False, paths=sorted(change.files))


def batch_message(batch: Sequence[PendingChange]) -> str:
    """A batch of one keeps its own message; a larger batch lists each change (subject, then its body)."""
    if len(batch) == 1:
        return batch[0].message
    lines = [f"GitOps batch: {len(batch)} tenant changes", ""]
    for change in batch:
        subject, _, body = change.message.partition("\n")
        lines.append(f"* {subject}")
        lines += [f"  {line}" for line in body.strip().splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


def outcome(result: Settled) -> GitOpsChange:
    """The change's commit, or its batch's error raised as the same domain class (the ASL routes on it)."""
    if result.change is not None:
        return result.change
    cls = getattr(errors, result.error or "", None)
    if isinstance(cls, type) and issubclass(cls, OnboardingError):
        raise cls(f"the GitOps batch {result.batch} failed: {result.cause}")
    raise GitOpsBatchFailed(f"the GitOps batch {result.batch} failed: {result.error}: {result.cause}")
