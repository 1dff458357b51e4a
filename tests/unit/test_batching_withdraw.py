"""A writer whose wait fails (a queue call raising) withdraws its change: no later batch pushes it behind the back of
the state machine's retry or of the revert (found by the chaos benchmark: a failed resume's change was pushed by a
later batch after its revert, leaving a SUSPENDED tenant resumed in git)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise

import pytest

from onboarding.batch_queue import PendingChange, Settled, ticket
from onboarding.batching import BatchPolicy, GroupCommitWriter
from onboarding.errors import TransientError
from onboarding.gitops import apply_files
from onboarding.payloads import GitOpsChange
from onboarding.ports import Snapshot
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


# --- a writer that gives up while a flush holds its change (issue 15) ------------------------------------------------
#
# Each interleaving is driven explicitly: the flush runs in this thread, and at one chosen point of it (after it
# claimed, after it fetched, after it checked its claims, just before its push reaches the remote, just after, after it
# settled) the other writer gives up, as its deadline would make it, and what follows its answer (compensation or a
# revert) runs there and then. The flush then carries on. Whatever the point, what the writer reported is what main
# holds, and what the flush carried for the other tenants is on main too.

EXPECTED = {
    "claimed": "withdrawn",  # revoked before the flush checked its claims: the flush leaves a out
    "fetched": "withdrawn",
    "checked+direct": "withdrawn",  # the head moved off the base the flush recorded: its push cannot land
    "checked": "own push",  # the flush may push on the head it recorded: a pushes first, the flush's push fails
    "pushing": "own push",
    "pushed": "landed",  # the flush's push landed: a reports that commit
    "settled": "landed",
}


class Hooks:
    """A one-shot action at a named point of a flush."""

    def __init__(self, point: str, action: Callable[[], None]) -> None:
        self.point, self.action = point, action

    def at(self, point: str) -> None:
        if self.point == point:
            self.point = ""  # once: the action's own calls (its snapshot, its push) do not fire it again
            self.action()


class HookedQueue(InMemoryGitOpsQueue):
    def __init__(self) -> None:
        super().__init__()
        self.hooks = Hooks("", lambda: None)

    def claim(self, changes: Sequence[PendingChange], flush: str, now: float, until: float) -> list[str]:
        claimed = super().claim(changes, flush, now, until)
        self.hooks.at("claimed")
        return claimed

    def pushing(self, flush: str, base: str | None, tickets: Sequence[str]) -> set[str]:
        held = super().pushing(flush, base, tickets)
        self.hooks.at("checked")
        self.hooks.at("checked+direct")
        return held

    def settle(self, flush: str, results: Sequence[Settled]) -> None:
        super().settle(flush, results)
        self.hooks.at("settled")


class HookedRepo(InMemoryGitOpsRepository):
    def __init__(self, files: dict[str, bytes], hooks: Hooks) -> None:
        super().__init__(files)
        self.hooks = hooks

    def snapshot(self, paths: Sequence[str]) -> Snapshot:
        snapshot = super().snapshot(paths)
        self.hooks.at("fetched")
        return snapshot

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        self.hooks.at("pushing")
        sha = super().commit(base, changes, message)
        self.hooks.at("pushed")
        return sha


def writes_of(repo: InMemoryGitOpsRepository, path: str) -> list[str]:
    """The commits that changed ``path``."""
    return [sha for (_, before, _), (sha, after, _) in pairwise(repo.commits) if before.get(path) != after.get(path)]


FLAVOURS = {
    # an onboarding's CommitGitOps (no file before; compensation removes it) and an operation's UpdateGitOps (a resume
    # whose RevertGitOps puts the suspended file back)
    "onboard": (None, b"onboarded"),
    "resume": (b"suspended", b"resumed"),
}


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
@pytest.mark.parametrize("point", sorted(EXPECTED))
def test_what_a_writer_that_gave_up_reports_is_what_main_holds_whenever_it_gives_up(point: str, flavour: str) -> None:
    # Given tenant a's change and tenant b's, both pending, and a flush that takes both
    before, wanted = FLAVOURS[flavour]
    mine, theirs, direct = "tenants/a.yaml", "tenants/b.yaml", "tenants/c.yaml"
    queue, clock = HookedQueue(), FakeClock()
    seed = {"README.md": b"seed"} | ({mine: before} if before is not None else {})
    repo = HookedRepo(seed, queue.hooks)
    queue.enqueue(PendingChange("a#e", "a", {mine: wanted}, "Change a\n", clock() - 5), clock())
    queue.enqueue(PendingChange("b#e", "b", {theirs: b"b"}, "Onboard b\n", clock() - 4), clock())
    flusher = GroupCommitWriter(queue, repo, BatchPolicy(), pause=clock.pause, clock=clock)
    waiter = GroupCommitWriter(queue, repo, BatchPolicy(), pause=clock.pause, clock=clock)
    reported: list[GitOpsChange | None] = []

    def a_gives_up() -> None:
        if point == "checked+direct":  # a direct push (a fleet wave, another tenant's compensation) lands first
            apply_files(repo, {direct: b"c"}, "Commit wave\n", sleep=clock.pause)
        reported.append(waiter.give_up("a#e", {mine: wanted}, "Change a\n"))
        if reported[0] is None:  # the writer raises GitOpsConflict; the state machine compensates (or reverts)
            apply_files(repo, {mine: before}, "Revert a\n", sleep=clock.pause)

    queue.hooks.point, queue.hooks.action = point, a_gives_up
    # When the flush runs, and a gives up at that point of it
    flusher.flush(queue.pending(500, clock()))
    # Then a's answer is the truth on main, for good
    assert len(reported) == 1
    change, a_result = reported[0], queue.settled("a#e")
    kind = "withdrawn" if change is None else "own push" if a_result is None else "landed"
    assert kind == EXPECTED[point]
    if change is None:
        assert repo.head[1].get(mine) == before  # nothing of a's change is on main: compensation acted on the truth
        assert writes_of(repo, mine) == []
    else:
        assert repo.head[1][mine] == wanted and files_at(repo, change.commit)[mine] == wanted
        assert change.changed and change.paths == [mine]
        assert writes_of(repo, mine) == [change.commit]  # written once, by the commit a learned
    # And b's change is on main, once, in the commit b learned; so is the direct push's
    b_result = queue.settled("b#e")
    assert b_result is not None and b_result.change is not None
    assert repo.head[1][theirs] == b"b" and writes_of(repo, theirs) == [b_result.change.commit]
    if point == "checked+direct":
        assert repo.head[1][direct] == b"c"
    assert queue.pending(500, clock() + 3600) == []  # nothing left for a later flush to push


def files_at(repo: InMemoryGitOpsRepository, sha: str) -> dict[str, bytes]:
    return next(files for commit, files, _ in repo.commits if commit == sha)
