"""Group commit of GitOps writes: under a burst, many tenants' files go into one commit and one push.

Each writer (a CommitGitOps or UpdateGitOps invocation) enqueues its tenant's desired files as a pending
change, keyed by a ticket (the tenant and its execution), then either becomes the flusher by taking a
lease, or waits for its change to be settled. The flusher lets the oldest pending change wait a short
gather window, so that concurrent writers can enqueue, then takes every pending change (up to a bound,
oldest first; of two changes to one path only the older, the other goes into the next batch), claims
each with a conditional write, and pushes the claimed ones in one commit. A writer whose change is
settled returns the commit that carries its files, or raises the batch's error: a failed batch fails
only its own tenants, which compensate or retry alone.

No push of a change can land after its writer gave up (docs/gitops-batching.md, "The claim protocol"):

- the flusher pushes only changes it claimed, and after each fetch, before each push, it records the base
  it is about to push on and re-reads its claims (a consistent read): a change no longer claimed by it
  is left out of that push;
- a writer that gives up withdraws its change if no flusher claimed it; if one did, it revokes the claim,
  then reads the base the flusher last recorded. Only a push on that base can still carry the change (the
  flusher's later checks see the revocation), and a push is a compare-and-swap of the branch: so the
  writer fetches the branch; its files there mean the change landed (it returns that commit); a head
  other than that base means the flusher's push can no longer land (it gives up: nothing was pushed);
  the head still at that base means the flusher may be pushing on it right now, and the writer pushes
  its own files on it, which either lands (the writer returns its own commit, the flusher's push fails
  and is redone without the change) or fails because the flusher's landed (fetched again: landed);
- a claim expires when its flusher's Lambda is over; a later flusher claims the change again and, like
  any write, fetches the branch first and commits only what differs: no duplicate commit, no lost change.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from onboarding import errors
from onboarding.batch_queue import GitOpsQueue, PendingChange, Settled, Withdrawal
from onboarding.errors import BranchMoved, GitOpsBatchFailed, GitOpsConflict, OnboardingError
from onboarding.gitops import BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, MAX_PUSH_ATTEMPTS
from onboarding.payloads import GitOpsChange
from onboarding.ports import GitOpsRepository


@dataclass(frozen=True)
class BatchPolicy:
    gather_seconds: float = 1.0  # how long the oldest pending change waits for others before a flush
    max_changes: int = 500  # changes per commit
    lease_seconds: float = 20.0  # a flusher that dies holds the lease this long
    poll_seconds: float = 0.1  # how often a waiting writer first looks at its change (then less often, to 1 s)
    lease_retry_seconds: float = 0.5  # how often a waiting writer tries the lease (a write: polled less often)
    claim_seconds: float = 60.0  # a claim lasts at most this long (a Lambda's timeout) ...
    claim_grace_seconds: float = 10.0  # ... and no longer than the flusher's deadline plus this (its Lambda's end)
    push_attempts: int = MAX_PUSH_ATTEMPTS  # per batch, and per writer settling a revoked claim


@dataclass
class GroupCommitWriter:
    queue: GitOpsQueue
    repo: GitOpsRepository
    policy: BatchPolicy = field(default_factory=BatchPolicy)
    pause: Callable[[float], None] = time.sleep  # the local stack lets other handlers run meanwhile
    clock: Callable[[], float] = time.time
    deadline: float = math.inf  # a clock() time: the invocation must answer before it
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    rng: random.Random = field(default_factory=random.Random)
    pushes: int = 0  # batches this writer pushed (for tests and benchmarks)

    def write(self, ticket: str, tenant_id: str, desired: Mapping[str, bytes | None], message: str) -> GitOpsChange:
        """Enqueue the tenant's files; return the commit of the batch that carries them once it is pushed.

        Past ``deadline`` the writer gives up (``give_up``): with GitOpsConflict (transient: the state machine
        retries, which enqueues the same ticket again) when nothing of its change was or can be pushed, or
        with the commit that carries its files when they landed.
        """
        try:
            # inside: an enqueue whose reply was lost may have queued the change all the same
            self.queue.enqueue(PendingChange(ticket, tenant_id, dict(desired), message, self.clock()), self.clock())
            result = self._wait(ticket)
        except BaseException:
            # a queue call failed: the retry enqueues again, and compensation must not find a batch pushing this
            # change behind its back; if it landed, that is the truth to report
            try:
                landed = self._give_up_retrying(ticket, desired, message)
            except Exception:  # noqa: BLE001 - the error being raised is the one that matters
                landed = None
            if landed is not None:
                return landed
            raise
        if result is not None:
            return outcome(result)
        try:
            landed = self.give_up(ticket, desired, message)
        except OnboardingError as exc:
            # what became of the change is not known yet: retried (transient), never compensated on a guess
            raise GitOpsConflict(f"{tenant_id}'s GitOps change was not pushed in time, and {exc}") from exc
        if landed is not None:
            return landed
        raise GitOpsConflict(f"the batch carrying {tenant_id}'s GitOps change was not pushed in time")

    def _give_up_retrying(
        self, ticket: str, desired: Mapping[str, bytes | None], message: str, attempts: int = 3
    ) -> GitOpsChange | None:
        for attempt in range(1, attempts + 1):
            try:
                return self.give_up(ticket, desired, message)
            except errors.TransientError:
                if attempt == attempts:
                    raise
        return None

    def give_up(self, ticket: str, desired: Mapping[str, bytes | None], message: str) -> GitOpsChange | None:
        """Take the change back, and learn what is true: None when no batch pushed it and none can any more; the
        commit that carries its files when they landed (or when this writer had to push them itself to be sure).
        A settled change's outcome is returned (or its error raised). Raises when the remote cannot say."""
        withdrawal = self.queue.withdraw(ticket)
        if withdrawal.state == "withdrawn":
            return None
        if withdrawal.state == "gone":
            result = self.queue.settled(ticket)
            return None if result is None else outcome(result)
        for _attempt in range(self.policy.push_attempts):
            snapshot = self.repo.snapshot(list(desired))
            changes = {path: content for path, content in desired.items() if snapshot.files.get(path) != content}
            if not changes:  # the branch holds the change: the flush landed it (or it was there before)
                result = self.queue.settled(ticket)
                if result is not None and result.change is not None:
                    return result.change  # the flush settled it: its exact commit
                return landed(snapshot.sha, desired, withdrawal)
            if not withdrawal.pushing or snapshot.sha != withdrawal.base:
                return None  # the only push that could carry it (on withdrawal.base) can no longer land
            # the flush may be pushing on this very head: push our own files on it, so exactly one of the two lands
            pushing_at = datetime.now(UTC)
            try:
                sha = self.repo.commit(snapshot.sha, changes, message)
            except BranchMoved:
                continue  # someone pushed: fetch again (the flush's push, or another's)
            return GitOpsChange(commit=sha, changed=True, paths=sorted(changes), committed_at=pushing_at)
        raise GitOpsConflict(
            f"the GitOps branch moved on each of {self.policy.push_attempts} attempts to settle {ticket}"
        )

    def _wait(self, ticket: str) -> Settled | None:
        """The change's outcome, or None at the deadline."""
        try_lease_at, poll = self.clock(), self.policy.poll_seconds
        while True:
            result = self.queue.settled(ticket)
            if result is not None:
                return result
            if self.clock() >= self.deadline:
                return None
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
        pending = self.queue.pending(self.policy.max_changes, self.clock())
        if not pending:
            return
        wait = pending[0].enqueued_at + self.policy.gather_seconds - self.clock()
        if wait > 0 and len(pending) < self.policy.max_changes:
            self.pause(wait)
            pending = self.queue.pending(self.policy.max_changes, self.clock())
        self.flush(pending)

    def claim_until(self) -> float:
        """When this writer's claims expire: when its Lambda is over (it pushes nothing after that)."""
        now = self.clock()
        return min(now + self.policy.claim_seconds, self.deadline + self.policy.claim_grace_seconds)

    def flush(self, pending: Sequence[PendingChange], flush_id: str | None = None) -> None:
        """Claim ``pending`` (those of it touching distinct paths), push the claimed ones in one commit, settle each."""
        batch: list[PendingChange] = []
        taken: set[str] = set()
        for change in pending:
            if taken.isdisjoint(change.files):
                batch.append(change)
                taken.update(change.files)
        flush_id = flush_id or uuid.uuid4().hex
        until = self.claim_until()
        claimed = set(self.queue.claim(batch, flush_id, self.clock(), until))
        batch = [change for change in batch if change.ticket in claimed]
        if not batch:
            return
        try:
            written, batch = self._push(batch, flush_id, until)
        except Exception as exc:  # noqa: BLE001 - whatever failed the batch fails each of its changes, named
            self.queue.settle(
                flush_id, [Settled(c.ticket, flush_id, None, type(exc).__name__, str(exc)) for c in batch]
            )
            return
        if written is None:
            return
        if written.changed:
            self.pushes += 1
        self.queue.settle(flush_id, [Settled(c.ticket, flush_id, share(written, c)) for c in batch])

    def _push(
        self, batch: list[PendingChange], flush_id: str, until: float
    ) -> tuple[GitOpsChange | None, list[PendingChange]]:
        """Push the claimed changes still held at the last check; returns the commit and the changes it carries."""
        paths = sorted({path for change in batch for path in change.files})
        for attempt in range(self.policy.push_attempts):
            snapshot = self.repo.snapshot(paths)
            held = self.queue.pushing(flush_id, snapshot.sha, [c.ticket for c in batch])
            batch = [change for change in batch if change.ticket in held]  # a revoked claim is left out, for good
            if not batch:
                return None, batch
            if self.clock() >= until:  # others may claim these changes now: push nothing more
                raise GitOpsConflict(f"the GitOps batch {flush_id} was not pushed before its claims expired")
            desired = {path: content for change in batch for path, content in change.files.items()}
            changes = {path: content for path, content in desired.items() if snapshot.files.get(path) != content}
            if not changes:
                return GitOpsChange(commit=snapshot.sha or "", changed=False, paths=sorted(desired)), batch
            pushing_at = datetime.now(UTC)  # before the push: Flux's verdict on it can only come after this
            try:
                sha = self.repo.commit(snapshot.sha, changes, batch_message(batch))
            except BranchMoved:
                self.pause(self.rng.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
                continue
            return GitOpsChange(commit=sha, changed=True, paths=sorted(changes), committed_at=pushing_at), batch
        raise GitOpsConflict(f"the GitOps branch moved on each of {self.policy.push_attempts} push attempts")


def landed(head: str | None, desired: Mapping[str, bytes | None], withdrawal: Withdrawal) -> GitOpsChange:
    """The branch holds the change, and its flush did not settle it (yet): the head carries it. Changed when the
    flush had recorded a push (Flux's verdict then comes after the claim); otherwise it was there already."""
    if not withdrawal.pushing:
        return GitOpsChange(commit=head or "", changed=False, paths=sorted(desired))
    since = None if withdrawal.claimed_at is None else datetime.fromtimestamp(withdrawal.claimed_at, UTC)
    return GitOpsChange(commit=head or "", changed=True, paths=sorted(desired), committed_at=since)


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
