"""The batching GitOps writer for real: its DynamoDB queue on moto (table from template.yaml), concurrent writers
pushing to a real git daemon."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from onboarding.adapters.dynamodb.gitops_queue import DynamoGitOpsQueue
from onboarding.adapters.git import DulwichGitOpsRepository
from onboarding.batch_queue import PendingChange, Settled, Withdrawal, ticket
from onboarding.batching import BatchPolicy, GroupCommitWriter
from onboarding.errors import GitOpsChangeTooLarge
from onboarding.gitops import apply_files
from onboarding.payloads import GitOpsChange
from onboarding_local.gitserver import GitServer
from tests.utils.moto_aws import create_template_table, mocked_aws


@pytest.fixture
def queue() -> Iterator[DynamoGitOpsQueue]:
    with mocked_aws("us-east-1"):
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_template_table(client, "GitOpsQueueTable")
        yield DynamoGitOpsQueue("GitOpsQueueTable", client)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    git = GitServer(tmp_path).start()
    yield git
    git.stop()


def change(name: str, at: float, content: bytes | None = b"x") -> PendingChange:
    return PendingChange(ticket(name, "e"), name, {f"tenants/{name}.yaml": content}, f"Onboard tenant {name}\n", at)


NOW = 5000.0


def test_pending_changes_come_oldest_first_and_leave_the_queue_once_settled(queue: DynamoGitOpsQueue) -> None:
    for i in range(60):
        queue.enqueue(change(f"t{i:02}", 1000.0 + i, None if i == 7 else f"n: {i}\n".encode()), NOW)
    first = queue.pending(50, NOW)
    assert [c.tenant_id for c in first] == [f"t{i:02}" for i in range(50)]
    assert first[7].files == {"tenants/t07.yaml": None} and first[8].files == {"tenants/t08.yaml": b"n: 8\n"}
    assert queue.settled(first[0].ticket) is None  # pending
    assert queue.claim(first, "f1", NOW, NOW + 60) == [c.ticket for c in first]
    done = GitOpsChange(commit="c" * 40, changed=True, paths=["tenants/t00.yaml"])
    queue.settle(
        "f1",
        [
            Settled(c.ticket, "b1", done if i else None, None if i else "GitOpsPushRejected", "no")
            for i, c in enumerate(first)
        ],
    )
    assert [c.tenant_id for c in queue.pending(100, NOW)] == [f"t{i}" for i in range(50, 60)]
    failed, ok = queue.settled(first[0].ticket), queue.settled(first[1].ticket)
    assert failed == Settled(first[0].ticket, "b1", None, "GitOpsPushRejected", "no")
    assert ok is not None and ok.change == done and ok.batch == "b1"
    # a retried writer enqueues the same ticket again: pending again, its old outcome gone
    queue.enqueue(change("t00", 2000.0), NOW)
    assert queue.settled(first[0].ticket) is None and queue.pending(100, NOW)[-1].tenant_id == "t00"


def test_a_pending_change_can_be_withdrawn_and_a_settled_one_cannot(queue: DynamoGitOpsQueue) -> None:
    queue.enqueue(change("a", 1.0), NOW)
    queue.enqueue(change("b", 2.0), NOW)
    queue.claim([change("b", 2.0)], "f1", NOW, NOW + 60)
    queue.settle("f1", [Settled(ticket("b", "e"), "b1", GitOpsChange(commit="c", changed=False, paths=[]))])
    assert queue.withdraw(ticket("a", "e")) == Withdrawal("withdrawn")
    assert queue.withdraw(ticket("a", "e")) == Withdrawal("gone")
    assert queue.withdraw(ticket("b", "e")) == Withdrawal("gone") and queue.settled(ticket("b", "e")) is not None
    assert queue.pending(10, NOW) == []


def test_a_claim_is_exclusive_until_it_expires_and_only_its_flush_settles(queue: DynamoGitOpsQueue) -> None:
    a = change("a", 1.0)
    queue.enqueue(a, NOW)
    assert queue.claim([a], "f1", NOW, NOW + 60) == [a.ticket]
    # claimed: no longer offered, not claimable by another flush, not overwritten by a retried enqueue
    assert queue.pending(10, NOW) == [] and queue.claim([a], "f2", NOW + 1, NOW + 61) == []
    queue.enqueue(change("a", 9.0), NOW + 1)
    assert queue.pushing("f1", "b" * 40, [a.ticket]) == {a.ticket}
    # expired (its flusher's Lambda is over): offered again, and a later flush claims it
    assert queue.pending(10, NOW + 61) == [a] and queue.claim([a], "f2", NOW + 61, NOW + 120) == [a.ticket]
    assert queue.pushing("f1", "b" * 40, [a.ticket]) == set()  # the first flush no longer holds it
    queue.settle("f1", [Settled(a.ticket, "f1", None, "GitOpsConflict", "late")])  # not its claim: ignored
    assert queue.settled(a.ticket) is None
    queue.settle("f2", [Settled(a.ticket, "f2", GitOpsChange(commit="c", changed=True, paths=["x"]))])
    settled = queue.settled(a.ticket)
    assert settled is not None and settled.batch == "f2"


def test_a_claimed_change_is_revoked_with_the_base_its_flush_last_recorded(queue: DynamoGitOpsQueue) -> None:
    a, b = change("a", 1.0), change("b", 2.0)
    queue.enqueue(a, NOW)
    queue.enqueue(b, NOW)
    assert queue.claim([a, b], "f1", NOW, NOW + 60) == [a.ticket, b.ticket]
    # revoked before the flush recorded any push: it never pushes it
    assert queue.withdraw(a.ticket) == Withdrawal("revoked", "f1", NOW, False, None)
    assert queue.pushing("f1", "1" * 40, [a.ticket, b.ticket]) == {b.ticket}
    # revoked after: the base of the only push that may still carry it
    assert queue.withdraw(b.ticket) == Withdrawal("revoked", "f1", NOW, True, "1" * 40)
    assert queue.pushing("f1", "2" * 40, [a.ticket, b.ticket]) == set()
    # a revoked change is never offered or claimed again, but a retried writer may enqueue it anew
    assert queue.pending(10, NOW + 100) == [] and queue.claim([a], "f2", NOW + 100, NOW + 160) == []
    queue.enqueue(change("a", 3.0), NOW + 1)
    assert queue.pending(10, NOW + 1) == [change("a", 3.0)]
    # and the flush still records what it pushed of a change it held (here: nothing; its settle is ignored)
    queue.settle("f1", [Settled(a.ticket, "f1", None, "GitOpsConflict", "x")])
    assert queue.settled(a.ticket) is None


def test_one_flusher_holds_the_lease_until_it_frees_it_or_it_expires(queue: DynamoGitOpsQueue) -> None:
    assert queue.acquire("one", 100.0, 20.0)
    assert not queue.acquire("two", 110.0, 20.0)
    queue.release("two")  # not its lease: nothing happens
    assert not queue.acquire("two", 119.0, 20.0)
    assert queue.acquire("two", 121.0, 20.0)  # expired: taken over
    queue.release("one")  # the dead flusher came back: it no longer holds it
    assert not queue.acquire("three", 122.0, 20.0)
    queue.release("two")
    assert queue.acquire("three", 122.0, 20.0)
    assert queue.pending(10, NOW) == []  # the lease is no pending change


def test_a_change_too_large_for_one_item_is_refused(queue: DynamoGitOpsQueue) -> None:
    with pytest.raises(GitOpsChangeTooLarge):
        queue.enqueue(change("big", 1.0, b"x" * 400_000), NOW)


def commits_touching(server: GitServer) -> Counter[str]:
    """How many commits of main changed each path (git log --name-only)."""
    out = server.git("log", "--format=", "--name-only", "main")
    return Counter(line for line in out.splitlines() if line.strip())


@pytest.mark.parametrize("writers", [30])
def test_concurrent_writers_lose_no_file_duplicate_none_and_each_learns_its_own_commit(
    queue: DynamoGitOpsQueue, server: GitServer, writers: int
) -> None:
    # Given K writers at once, each with its own repository client and the one queue
    policy = BatchPolicy(gather_seconds=0.2, poll_seconds=0.02)
    results: dict[str, GitOpsChange] = {}
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def one(i: int) -> None:
        path = f"tenants/t{i:03}.yaml"
        w = GroupCommitWriter(queue, DulwichGitOpsRepository(server.url, "main"), policy)
        start.wait()
        try:
            results[path] = w.write(ticket(f"t{i:03}", "e"), f"t{i:03}", {path: f"n: {i}\n".encode()}, f"Add t{i}\n")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # Then every writer succeeded, each file is on main, written by exactly one commit
    assert failures == [] and len(results) == writers
    touched = commits_touching(server)
    for i in range(writers):
        path = f"tenants/t{i:03}.yaml"
        assert server.read(path) == f"n: {i}\n" and touched[path] == 1
        # and the commit each writer learned is the one that carries its file
        mine = results[path]
        assert mine.changed and mine.paths == [path]
        assert server.git("log", "--format=%H", "-1", "main", "--", path).strip() == mine.commit
    # fewer pushes than writers: files shared commits
    pushes = len({c.commit for c in results.values()})
    assert pushes < writers
    server.git("fsck", "--strict")


class GivesUpWhilePushing(DulwichGitOpsRepository):
    """Runs ``race`` once, just before this client's next push reaches the remote."""

    race: Any = None

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        race, self.race = self.race, None
        if race is not None:
            race()
        return super().commit(base, changes, message)


@pytest.mark.parametrize("head_moved", [False, True], ids=["head-at-flush-base", "head-moved-first"])
def test_a_writer_giving_up_while_its_flush_pushes_reports_what_main_holds(
    queue: DynamoGitOpsQueue, server: GitServer, head_moved: bool
) -> None:
    # Given a's and b's changes claimed by a flush that fetched, checked its claims and is about to push
    a, b = change("a", 1.0, b"a\n"), change("b", 2.0, b"b\n")
    queue.enqueue(a, NOW)
    queue.enqueue(b, NOW)
    flushing = GivesUpWhilePushing(server.url, "main")
    flusher = GroupCommitWriter(queue, flushing, BatchPolicy(), clock=lambda: NOW)
    waiter = GroupCommitWriter(queue, DulwichGitOpsRepository(server.url, "main"), BatchPolicy(), clock=lambda: NOW)
    answer: list[GitOpsChange | None] = []

    def a_gives_up() -> None:
        other = DulwichGitOpsRepository(server.url, "main")
        if head_moved:  # a direct push (a fleet wave) lands first
            apply_files(other, {"tenants/wave.yaml": b"w\n"}, "Commit wave\n")
        answer.append(waiter.give_up(a.ticket, a.files, a.message))
        if answer[0] is None:  # a's writer raises; compensation removes what it finds
            apply_files(other, {"tenants/a.yaml": None}, "Revert onboarding of tenant a\n")

    flushing.race = a_gives_up
    # When a gives up there, and the flush carries on
    flusher.flush(queue.pending(10, NOW))
    # Then a's answer is what main holds: nothing of a (head moved: the flush's push could not land), or a's own commit
    (got,) = answer
    touched = commits_touching(server)
    if head_moved:
        assert got is None and server.read("tenants/a.yaml") is None and touched["tenants/a.yaml"] == 0
    else:
        assert got is not None and got.changed and server.read("tenants/a.yaml") == "a\n"
        assert touched["tenants/a.yaml"] == 1
        assert server.git("log", "--format=%H", "-1", "main", "--", "tenants/a.yaml").strip() == got.commit
    # And b's change landed once, in the commit b learned
    settled = queue.settled(b.ticket)
    assert settled is not None and settled.change is not None and server.read("tenants/b.yaml") == "b\n"
    assert touched["tenants/b.yaml"] == 1
    assert server.git("log", "--format=%H", "-1", "main", "--", "tenants/b.yaml").strip() == settled.change.commit
    assert queue.pending(10, NOW + 3600) == []
