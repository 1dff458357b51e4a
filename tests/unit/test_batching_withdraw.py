"""A writer whose wait fails (a queue call raising) withdraws its change: no later batch pushes it behind the back of
the state machine's retry or of the revert (found by the chaos benchmark: a failed resume's change was pushed by a
later batch after its revert, leaving a SUSPENDED tenant resumed in git)."""

from __future__ import annotations

import pytest

from onboarding.batching import BatchPolicy, GroupCommitWriter, PendingChange, Settled, ticket
from onboarding.errors import TransientError
from tests.utils.batching import FakeClock, InMemoryGitOpsQueue
from tests.utils.fakes import InMemoryGitOpsRepository


class FailingLookups(InMemoryGitOpsQueue):
    """``settled`` fails the first ``times`` lookups (a throttled GetItem)."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def settled(self, key: str) -> Settled | None:
        if self.times > 0:
            self.times -= 1
            raise TransientError("dynamodb:GetItem: ThrottlingException")
        return super().settled(key)


def test_a_writer_whose_wait_fails_withdraws_its_change_so_no_later_batch_pushes_it() -> None:
    # Given a writer whose first lookup of its change fails
    repo, clock = InMemoryGitOpsRepository({"README.md": b"seed"}), FakeClock()
    queue = FailingLookups(times=1)
    writer = GroupCommitWriter(queue, repo, BatchPolicy(), pause=clock.pause, clock=clock)
    with pytest.raises(TransientError):
        writer.write(ticket("t1", "e1"), "t1", {"tenants/t1.yaml": b"resumed"}, "Resume tenant t1\n")
    # Then its change is no longer pending
    assert queue.pending(500, clock()) == []
    # And a later writer's batch carries only its own change
    other = GroupCommitWriter(queue, repo, BatchPolicy(), pause=clock.pause, clock=clock)
    other.write(ticket("t2", "e2"), "t2", {"tenants/t2.yaml": b"t2"}, "Onboard tenant t2\n")
    assert "tenants/t1.yaml" not in repo.head[1] and repo.head[1]["tenants/t2.yaml"] == b"t2"


class LostEnqueueReply(InMemoryGitOpsQueue):
    """The first enqueue takes effect, then raises (its reply was lost)."""

    def __init__(self) -> None:
        super().__init__()
        self.lose = True

    def enqueue(self, change: PendingChange, now: float) -> None:
        super().enqueue(change, now)
        if self.lose:
            self.lose = False
            raise TransientError("dynamodb:PutItem: Read timeout on endpoint URL")


def test_an_enqueue_whose_reply_was_lost_is_withdrawn_too() -> None:
    # Found by the chaos benchmark: the change was queued, the writer raised, a later batch pushed it after the revert
    repo, clock, queue = InMemoryGitOpsRepository({"README.md": b"seed"}), FakeClock(), LostEnqueueReply()
    writer = GroupCommitWriter(queue, repo, BatchPolicy(), pause=clock.pause, clock=clock)
    with pytest.raises(TransientError):
        writer.write(ticket("t1", "e1"), "t1", {"tenants/t1.yaml": b"resumed"}, "Resume tenant t1\n")
    assert queue.pending(500, clock()) == []
