"""The dulwich GitOps adapter against a real git daemon on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from onboarding.adapters.git import DulwichGitOpsRepository
from onboarding.errors import BranchMoved, GitRemoteUnavailable, TransientError
from onboarding.gitops import apply_files
from onboarding_local.gitserver import GitServer


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    git = GitServer(tmp_path).start()
    yield git
    git.stop()


def repo(server: GitServer) -> DulwichGitOpsRepository:
    return DulwichGitOpsRepository(server.url, "main")


def test_snapshot_commit_and_read_back(server: GitServer) -> None:
    r = repo(server)
    snap = r.snapshot(["tenants/a.yaml", "clusters/production/tenants.yaml"])
    assert snap.sha == server.head()
    assert "tenants/a.yaml" not in snap.files and b"Kustomization" in snap.files["clusters/production/tenants.yaml"]
    sha = r.commit(snap.sha, {"tenants/a.yaml": "name: ü\n".encode()}, "Add a")
    assert server.head() == sha and server.read("tenants/a.yaml") == "name: ü\n"
    assert "tenants/README.md" in server.files()  # untouched paths are kept
    server.git("fsck", "--strict")


def test_delete_a_file(server: GitServer) -> None:
    r = repo(server)
    r.commit(r.snapshot([]).sha, {"tenants/a.yaml": b"a"}, "Add a")
    r.commit(r.snapshot([]).sha, {"tenants/a.yaml": None}, "Remove a")
    assert "tenants/a.yaml" not in server.files()


def test_a_push_on_a_moved_branch_raises_branch_moved_and_loses_nothing(server: GitServer) -> None:
    mine, theirs = repo(server), repo(server)
    base = mine.snapshot([]).sha
    theirs.commit(theirs.snapshot([]).sha, {"tenants/b.yaml": b"b"}, "Theirs")
    with pytest.raises(BranchMoved):
        mine.commit(base, {"tenants/a.yaml": b"a"}, "Mine")
    assert server.log()[0] == "Theirs"


def test_the_access_hook_moves_the_branch_right_before_a_push(server: GitServer) -> None:
    server.move_branch_before_next_push()
    change = apply_files(repo(server), {"tenants/a.yaml": b"a"}, "Mine", sleep=lambda _: None)
    assert change.changed
    assert server.log()[:2] == ["Mine", "Concurrent change by another writer"]


def test_an_unreachable_remote_is_a_clear_error() -> None:
    # A port held by a socket that never listens: connecting is refused. (A stopped daemon's port could be taken by
    # another test worker's git daemon in between, which answers a hang-up for a repository it does not have.)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        url = f"git://127.0.0.1:{held.getsockname()[1]}/gitops.git"
        with pytest.raises(GitRemoteUnavailable, match="cannot fetch"):
            DulwichGitOpsRepository(url, "main").snapshot([])


def test_concurrent_writers_lose_no_commit(server: GitServer) -> None:
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            apply_files(repo(server), {f"tenants/t{i}.yaml": f"{i}".encode()}, f"Add t{i}", attempts=30)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert {f"tenants/t{i}.yaml" for i in range(12)} <= set(server.files())
    assert sorted(s for s in server.log() if s.startswith("Add t")) == sorted(f"Add t{i}" for i in range(12))


def test_the_token_never_appears_in_the_adapters_repr() -> None:
    r = DulwichGitOpsRepository("https://git.example.com/gitops.git", "main", token="s3cr3t-token")
    assert "s3cr3t-token" not in repr(r) and "s3cr3t-token" not in str(r)


@pytest.mark.parametrize("status", [401, 404])
def test_an_https_remote_that_refuses_or_does_not_exist_is_a_clear_error(status: int) -> None:
    import http.server

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/gitops.git"
        with pytest.raises(GitRemoteUnavailable):
            DulwichGitOpsRepository(url, "main", token="expired").snapshot([])
    finally:
        server.shutdown()


# ------------------------------------------------------------------ know what a write did (lost replies)
class LostReply:
    """Wraps the adapter's git client: a TCP reset before the push is sent, or after it reached the remote."""

    def __init__(self, repo: DulwichGitOpsRepository, *, after_landing: bool, refs_readable: bool = True) -> None:
        self.after_landing, self.refs_readable = after_landing, refs_readable
        self._real = repo._client
        repo._client = self._client  # type: ignore[method-assign]

    def _client(self, **kwargs: Any) -> tuple[Any, Any]:
        client, path = self._real(**kwargs)
        outer = self

        class Client:
            def send_pack(self, *args: Any, **kwargs: Any) -> Any:
                if outer.after_landing:
                    client.send_pack(*args, **kwargs)
                raise ConnectionResetError(104, "Connection reset by peer")

            def get_refs(self, *args: Any, **kwargs: Any) -> Any:
                if not outer.refs_readable:
                    raise TimeoutError("timed out")
                return client.get_refs(*args, **kwargs)

            def fetch(self, *args: Any, **kwargs: Any) -> Any:
                return client.fetch(*args, **kwargs)

        return Client(), path


def test_a_push_that_landed_but_lost_its_reply_is_reported_as_landed(server: GitServer) -> None:
    r = repo(server)
    LostReply(r, after_landing=True)
    sha = r.commit(r.snapshot([]).sha, {"tenants/a.yaml": b"a"}, "Landed")
    assert server.head() == sha and server.read("tenants/a.yaml") == "a"


def test_a_push_reset_before_it_landed_is_transient_and_changes_nothing(server: GitServer) -> None:
    head = server.head()
    r = repo(server)
    LostReply(r, after_landing=False)
    with pytest.raises(TransientError, match="did not land"):
        r.commit(r.snapshot([]).sha, {"tenants/a.yaml": b"a"}, "Lost")
    assert server.head() == head and "tenants/a.yaml" not in server.files()


def test_an_unknowable_push_outcome_is_transient_and_the_retry_converges_to_one_commit(server: GitServer) -> None:
    r = repo(server)
    LostReply(r, after_landing=True, refs_readable=False)
    with pytest.raises(TransientError, match="outcome is unknown"):
        apply_files(r, {"tenants/a.yaml": b"a"}, "Maybe", sleep=lambda _: None)
    # the state machine's retry re-applies the desired state: it finds the files and makes no second commit
    change = apply_files(repo(server), {"tenants/a.yaml": b"a"}, "Maybe", sleep=lambda _: None)
    assert not change.changed and change.commit == server.head()
    assert server.log().count("Maybe") == 1


def test_a_reset_during_fetch_is_transient_not_permanent(server: GitServer) -> None:
    r = repo(server)
    real = r._client

    def resetting(**kwargs: Any) -> tuple[Any, Any]:
        _, path = real(**kwargs)

        class Client:
            def fetch(self, *args: Any, **kwargs: Any) -> Any:
                raise ConnectionResetError(104, "Connection reset by peer")

        return Client(), path

    r._client = resetting  # type: ignore[method-assign]
    with pytest.raises(TransientError, match="cannot fetch"):
        r.snapshot([])
