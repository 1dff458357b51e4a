"""The batching GitOps writer (group commit) against in-memory fakes: correctness, failures, takeover."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest

from onboarding.batch_queue import PendingChange, ticket
from onboarding.batching import BatchPolicy, GroupCommitWriter, batch_message, outcome
from onboarding.errors import GitOpsConflict, GitOpsPushRejected, GitRemoteUnavailable, TransientError
from onboarding.gitops import apply_files
from onboarding.identity import derive_tenant_id
from onboarding.manifests import GitOpsLayout
from onboarding.payloads import CompensateInput, StepInput
from onboarding.ports import Snapshot
from onboarding.steps.commit_gitops import commit_gitops
from onboarding.steps.compensate import compensate
from onboarding.steps.register_tenant import register_tenant
from tests.utils.batching import FakeClock, InMemoryGitOpsQueue
from tests.utils.fakes import InMemoryGitOpsRepository, InMemoryTenantStore, RecordingPublisher
from tests.utils.paths import tenant_file
from tests.utils.release import RELEASE

POLICY = BatchPolicy(gather_seconds=1.0, max_changes=500, lease_seconds=20.0, poll_seconds=0.1)


def writer(queue: InMemoryGitOpsQueue, repo: Any, clock: FakeClock, **policy: Any) -> GroupCommitWriter:
    chosen = BatchPolicy(**{**POLICY.__dict__, **policy})
    return GroupCommitWriter(queue, repo, chosen, pause=clock.pause, clock=clock)


def pending(queue: InMemoryGitOpsQueue, clock: FakeClock, *names: str) -> None:
    """Changes other writers enqueued and are waiting on (each its own file)."""
    for name in names:
        files = {f"tenants/{name}.yaml": f"name: {name}\n".encode()}
        message = f"Onboard tenant {name} (basic)\n"
        queue.enqueue(PendingChange(ticket(name, f"x-{name}"), name, files, message, clock() - 0.001), clock())


def files_at(repo: InMemoryGitOpsRepository, sha: str) -> dict[str, bytes]:
    return next(files for commit, files, _ in repo.commits if commit == sha)


def test_pending_changes_of_other_writers_go_into_the_flushers_one_commit() -> None:
    # Given ten writers' changes pending, and an eleventh writer
    repo, queue, clock = InMemoryGitOpsRepository({"README.md": b"seed"}), InMemoryGitOpsQueue(), FakeClock()
    names = [f"t{i}" for i in range(10)]
    pending(queue, clock, *names)
    # When it writes its own change
    mine = writer(queue, repo, clock).write(ticket("me", "e"), "me", {"tenants/me.yaml": b"me"}, "Onboard tenant me\n")
    # Then one commit carries all eleven, and every waiting writer's change is settled with that commit
    assert repo.pushes == 1 and len(repo.commits) == 2
    assert mine.changed and mine.paths == ["tenants/me.yaml"] and mine.commit == repo.head[0]
    for name in names:
        result = queue.settled(ticket(name, f"x-{name}"))
        assert result is not None and result.change is not None
        assert result.change.commit == mine.commit and result.change.paths == [f"tenants/{name}.yaml"]
        assert files_at(repo, mine.commit)[f"tenants/{name}.yaml"] == f"name: {name}\n".encode()
    assert queue.pending(100, clock()) == []


def test_the_oldest_change_waits_the_gather_window_then_the_batch_is_flushed() -> None:
    repo, queue, clock = InMemoryGitOpsRepository({"README.md": b"seed"}), InMemoryGitOpsQueue(), FakeClock()
    writer(queue, repo, clock, gather_seconds=0.5).write("a#e", "a", {"tenants/a.yaml": b"a"}, "m\n")
    assert clock.paused == [0.5]
    # a change that already waited the window is flushed at once
    queue.enqueue(PendingChange("b#e", "b", {"tenants/b.yaml": b"b"}, "m\n", clock() - 2), clock())
    clock.paused.clear()
    writer(queue, repo, clock, gather_seconds=0.5).write("c#e", "c", {"tenants/c.yaml": b"c"}, "m\n")
    assert clock.paused == [] and queue.flushes[-1] == ["b#e", "c#e"]


def test_a_batch_of_one_keeps_its_own_message_and_a_larger_one_lists_every_change() -> None:
    one = PendingChange("a#e", "a", {}, "Onboard tenant a (basic, pooled)\n\nExecution: e\n", 0)
    two = PendingChange("b#f", "b", {}, "Offboard tenant b\n\nOperation: offboard o\n", 0)
    assert batch_message([one]) == one.message
    assert batch_message([one, two]).splitlines() == [
        "GitOps batch: 2 tenant changes",
        "",
        "* Onboard tenant a (basic, pooled)",
        "  Execution: e",
        "* Offboard tenant b",
        "  Operation: offboard o",
    ]


def test_a_tenant_already_in_place_gets_the_head_commit_unchanged() -> None:
    repo = InMemoryGitOpsRepository({"README.md": b"seed", "tenants/a.yaml": b"a"})
    queue, clock = InMemoryGitOpsQueue(), FakeClock()
    pending(queue, clock, "b")
    change = writer(queue, repo, clock).write("a#e", "a", {"tenants/a.yaml": b"a"}, "m\n")
    # the batch committed b's file; a's content was already there: same commit, not changed for a
    assert not change.changed and change.commit == repo.head[0] and change.paths == ["tenants/a.yaml"]


def test_two_changes_to_one_path_go_into_successive_batches_oldest_first() -> None:
    repo, queue, clock = InMemoryGitOpsRepository({"README.md": b"seed"}), InMemoryGitOpsQueue(), FakeClock()
    queue.enqueue(PendingChange("a#e1", "a", {"tenants/a.yaml": b"first"}, "first\n", clock() - 5), clock())
    change = writer(queue, repo, clock).write("a#e2", "a", {"tenants/a.yaml": b"second"}, "second\n")
    assert queue.flushes == [["a#e1"], ["a#e2"]]
    assert repo.head[1]["tenants/a.yaml"] == b"second" and change.commit == repo.head[0]
    assert repo.pushes == 2


def test_at_most_max_changes_per_commit() -> None:
    repo, queue, clock = InMemoryGitOpsRepository({"README.md": b"seed"}), InMemoryGitOpsQueue(), FakeClock()
    pending(queue, clock, *(f"t{i}" for i in range(7)))
    writer(queue, repo, clock, max_changes=3).write("me#e", "me", {"tenants/me.yaml": b"me"}, "m\n")
    assert [len(f) for f in queue.flushes] == [3, 3, 2] and repo.pushes == 3


class BadRepo(InMemoryGitOpsRepository):
    """Refuses any push that carries ``poison``'s file (a server-side hook, say)."""

    def __init__(self, poison: str) -> None:
        super().__init__({"README.md": b"seed"})
        self.poison = poison

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        if self.poison in changes:
            raise GitOpsPushRejected("pre-receive hook declined")
        return super().commit(base, changes, message)


def test_a_failed_batch_fails_only_its_own_tenants_which_compensate_and_others_still_commit() -> None:
    # Given a batch holding a change the remote refuses, with two other tenants' changes
    repo, queue, clock = BadRepo("tenants/bad.yaml"), InMemoryGitOpsQueue(), FakeClock()
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    batch = [onboarding_step("s-bad-mate-1"), onboarding_step("s-bad-mate-2")]
    registrations = [
        register_tenant(s, tenants=store, publisher=publisher, now=lambda: datetime(2026, 11, 28, tzinfo=UTC))
        for s in batch
    ]
    for s in batch:  # enqueued: these writers wait for the batch
        desired = {f"tenants/{s.tenant_id}.yaml": b"mate"}
        queue.enqueue(PendingChange(ticket(s.tenant_id, s.execution), s.tenant_id, desired, "m\n", clock()), clock())
    # When the batch is flushed
    with pytest.raises(GitOpsPushRejected, match="pre-receive hook declined"):
        writer(queue, repo, clock).write("bad#e", "bad", {"tenants/bad.yaml": b"bad"}, "m\n")
    # Then each of its tenants' writers raises the batch's error (the state machine routes on its class)
    for s, registration in zip(batch, registrations, strict=True):
        result = queue.settled(ticket(s.tenant_id, s.execution))
        assert result is not None and result.error == "GitOpsPushRejected"
        with pytest.raises(GitOpsPushRejected):
            outcome(result)
        # and each compensates: its name is released, nothing of it is on the branch
        error = {"Error": "GitOpsPushRejected", "Cause": "x"}
        failed = CompensateInput.model_validate(
            {**s.wire(), "failedStep": "CommitGitOps", "error": error, "registration": registration.wire()}
        )
        assert compensate(failed, tenants=store, repo=repo).compensated
        assert f"tenants/{s.tenant_id}.yaml" not in repo.head[1]
    assert repo.pushes == 0 and store.names == {}
    # And a later batch, of other tenants, commits as usual
    later = writer(queue, repo, clock).write("ok#e", "ok", {"tenants/ok.yaml": b"ok"}, "m\n")
    assert later.changed and repo.head[1]["tenants/ok.yaml"] == b"ok"


@pytest.mark.parametrize("error", [TransientError, GitRemoteUnavailable])
def test_a_batch_error_is_raised_as_its_own_class_and_a_retry_enqueues_again(error: type[Exception]) -> None:
    class Flaky(InMemoryGitOpsRepository):
        failures = 1

        def snapshot(self, paths: Sequence[str]) -> Snapshot:
            if self.failures:
                self.failures -= 1
                raise error("cannot fetch")
            return super().snapshot(paths)

    repo, queue, clock = Flaky({"README.md": b"seed"}), InMemoryGitOpsQueue(), FakeClock()
    with pytest.raises(error):
        writer(queue, repo, clock).write("a#e", "a", {"tenants/a.yaml": b"a"}, "m\n")
    retried = writer(queue, repo, clock).write("a#e", "a", {"tenants/a.yaml": b"a"}, "m\n")
    assert retried.changed and repo.head[1]["tenants/a.yaml"] == b"a"


def test_a_dead_flushers_lease_expires_and_a_waiting_writer_takes_over() -> None:
    repo, queue, clock = InMemoryGitOpsRepository({"README.md": b"seed"}), InMemoryGitOpsQueue(), FakeClock()
    assert queue.acquire("dead", clock(), 20.0)  # took the lease, then its sandbox was killed
    pending(queue, clock, "orphan")
    change = writer(queue, repo, clock).write("a#e", "a", {"tenants/a.yaml": b"a"}, "m\n")
    # it waited for the lease to expire, then flushed the dead flusher's pending change with its own
    assert sum(clock.paused) >= 20.0 and queue.flushes == [["orphan#x-orphan", "a#e"]]
    assert change.changed and {"tenants/a.yaml", "tenants/orphan.yaml"} <= set(repo.head[1])
    assert queue.lease is None


def test_a_writer_past_its_deadline_withdraws_its_change_and_raises_a_transient_conflict() -> None:
    repo, queue, clock = InMemoryGitOpsRepository({"README.md": b"seed"}), InMemoryGitOpsQueue(), FakeClock()
    assert queue.acquire("stuck", clock(), 3600.0)
    w = writer(queue, repo, clock)
    w.deadline = clock() + 5
    with pytest.raises(GitOpsConflict):
        w.write("a#e", "a", {"tenants/a.yaml": b"a"}, "m\n")
    # withdrawn: no later batch writes it behind a retry's or a compensation's back
    assert queue.pending(10, clock()) == [] and repo.pushes == 0


class LockedRepo(InMemoryGitOpsRepository):
    """The in-memory branch with each call atomic, as a git server's ref update is."""

    def __init__(self) -> None:
        super().__init__({"README.md": b"seed"})
        self._lock = threading.Lock()

    def snapshot(self, paths: Sequence[str]) -> Snapshot:
        with self._lock:
            return super().snapshot(paths)

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        with self._lock:
            return super().commit(base, changes, message)


def test_concurrent_writers_lose_no_file_duplicate_none_and_each_learns_its_own_commit() -> None:
    repo, queue = LockedRepo(), InMemoryGitOpsQueue()
    policy = BatchPolicy(gather_seconds=0.05, poll_seconds=0.005)
    results: dict[str, Any] = {}

    def one(i: int) -> None:
        w = GroupCommitWriter(queue, repo, policy)
        path = f"tenants/t{i}.yaml"
        results[path] = w.write(ticket(f"t{i}", "e"), f"t{i}", {path: f"n: {i}\n".encode()}, f"Onboard tenant t{i}\n")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    head_files = repo.head[1]
    assert len(results) == 40
    for path, change in results.items():
        # the commit each writer learned carries its file, and it is on the branch
        assert change.changed and change.paths == [path]
        assert files_at(repo, change.commit)[path] == head_files[path]
    # each file was written by exactly one commit
    states = [files for _, files, _ in repo.commits]
    written = [p for before, after in pairwise(states) for p in after if before.get(p) != after[p]]
    assert sorted(written) == sorted(results)
    assert len(repo.commits) - 1 <= 40


def onboarding_step(signup_id: str) -> StepInput:
    tenant_id = derive_tenant_id(signup_id)
    detail = {"signupId": signup_id, "tenantName": signup_id, "adminEmail": "a@b.example", "tier": "basic"}
    return StepInput.model_validate({"tenantId": tenant_id, "attempt": 1, "execution": tenant_id, "signup": detail})


def test_commit_gitops_through_the_writer_returns_the_commit_carrying_its_files() -> None:
    repo, queue, clock = InMemoryGitOpsRepository({"README.md": b"seed"}), InMemoryGitOpsQueue(), FakeClock()
    pending(queue, clock, "neighbour")
    s = onboarding_step("s-batched")
    w = writer(queue, repo, clock)
    result = commit_gitops(s, repo=repo, layout=GitOpsLayout(), release=RELEASE, writer=w)
    path = tenant_file(s.tenant_id)
    assert result.changed and result.paths == [path] and result.commit == repo.head[0]
    assert path in files_at(repo, result.commit) and "tenants/neighbour.yaml" in files_at(repo, result.commit)
    assert result.chart_version == RELEASE.chart_version and repo.pushes == 1
    # the single-tenant message is kept inside the batch's
    assert f"* Onboard tenant {s.tenant_id} (basic, pooled)" in repo.commits[-1][2]


class Killed(BaseException):
    """The flusher's sandbox stops at this point (its Lambda timed out, or was killed)."""


class DiesAt(InMemoryGitOpsRepository):
    """A branch whose flusher dies just before (``before_push``) or just after its push reaches the remote."""

    def __init__(self, before_push: bool) -> None:
        super().__init__({"README.md": b"seed"})
        self.before_push, self.armed = before_push, True

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        if self.armed and self.before_push:
            self.armed = False
            raise Killed
        sha = super().commit(base, changes, message)
        if self.armed:
            self.armed = False
            raise Killed
        return sha


@pytest.mark.parametrize("before_push", [True, False], ids=["died-before-push", "died-after-push"])
def test_a_dead_flushers_claims_expire_and_a_later_flush_pushes_what_is_missing_once(before_push: bool) -> None:
    # Given a flusher that claimed two changes, then died before (or after) its push reached the remote
    repo, queue, clock = DiesAt(before_push), InMemoryGitOpsQueue(), FakeClock()
    pending(queue, clock, "a", "b")
    dead = writer(queue, repo, clock)
    dead.deadline = clock() + 30
    with pytest.raises(Killed):
        dead.flush(queue.pending(500, clock()))
    landed = 0 if before_push else 1
    assert len(repo.commits) - 1 == landed
    # While its claims last (until its Lambda is over), no other flush takes them
    assert queue.pending(500, clock()) == [] and queue.pending(500, dead.claim_until() - 1) == []
    # When a writer comes after they expired, its flush claims them again with its own change
    clock.now = dead.claim_until() + 0.001
    change = writer(queue, repo, clock).write("c#e", "c", {"tenants/c.yaml": b"c"}, "m\n")
    assert queue.flushes[-1] == ["a#x-a", "b#x-b", "c#e"]
    # Then every change is on main, each file written by exactly one commit (the dead flush's push is not redone)
    states = [files for _, files, _ in repo.commits]
    written = [p for before, after in pairwise(states) for p in after if before.get(p) != after[p]]
    assert sorted(written) == ["tenants/a.yaml", "tenants/b.yaml", "tenants/c.yaml"]
    assert change.changed and repo.head[1]["tenants/c.yaml"] == b"c"
    for name in ("a", "b"):  # and the waiting writers learn a commit that carries their files
        result = queue.settled(ticket(name, f"x-{name}"))
        assert result is not None and result.change is not None
        assert files_at(repo, result.change.commit)[f"tenants/{name}.yaml"] == f"name: {name}\n".encode()


class RacedRepo(InMemoryGitOpsRepository):
    """Runs ``race`` once, just before the next push reaches the remote: another writer's push lands first."""

    race: Any = None

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        race, self.race = self.race, None
        if race is not None:
            race()
        return super().commit(base, changes, message)


def test_a_direct_push_and_a_flush_racing_lose_neither_change_whichever_lands_first() -> None:
    # Given a flush about to push, and a direct write (a compensation, a revert, a fleet wave) landing just before it
    repo, queue, clock = RacedRepo({"README.md": b"seed", "tenants/x.yaml": b"x"}), InMemoryGitOpsQueue(), FakeClock()
    pending(queue, clock, "a")
    direct: list[Any] = []
    repo.race = lambda: direct.append(apply_files(repo, {"tenants/x.yaml": None}, "Revert x\n", sleep=clock.pause))
    writer(queue, repo, clock).write("b#e", "b", {"tenants/b.yaml": b"b"}, "m\n")
    # Then the flush, rejected (the branch moved), fetched the new head and pushed on it: both changes are on main
    assert direct[0].changed and "tenants/x.yaml" not in repo.head[1]
    assert {"tenants/a.yaml", "tenants/b.yaml"} <= set(repo.head[1])
    # And the other way round: a flush lands between a direct write's fetch and its push
    pending(queue, clock, "c")
    flushed: list[Any] = []
    repo.race = lambda: flushed.append(writer(queue, repo, clock).write("d#e", "d", {"tenants/d.yaml": b"d"}, "m\n"))
    wave = apply_files(repo, {"tenants/a.yaml": b"a v2", "tenants/b.yaml": b"b v2"}, "Commit wave\n", sleep=clock.pause)
    assert flushed[0].changed and wave.changed
    assert {p: repo.head[1][p] for p in ("tenants/a.yaml", "tenants/b.yaml", "tenants/c.yaml", "tenants/d.yaml")} == {
        "tenants/a.yaml": b"a v2",
        "tenants/b.yaml": b"b v2",
        "tenants/c.yaml": b"name: c\n",
        "tenants/d.yaml": b"d",
    }
