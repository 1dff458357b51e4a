"""The GitOps adapter on a repository of thousands of tenants (real git daemon): a write reads only the
trees on its paths, pushes only what it created, and leaves every other tenant's file as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dulwich.objects import ObjectID

from onboarding.adapters.git import DulwichGitOpsRepository
from onboarding.adapters.gitbase import BaseCache
from onboarding.adapters.gittrees import BLOB, TREE, RawObjects, entry_id, find_entry
from onboarding.errors import BranchMoved
from onboarding.gitops import apply_files
from onboarding.manifests import tenant_path
from onboarding_local.gitserver import GitServer

FLEET = 2000


def tenant(i: int) -> str:
    return f"tenants/t-tenant-{i:05d}-0123456789.yaml"


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    git = GitServer(tmp_path).start()
    git.commit_files({tenant(i): f"name: tenant-{i}\n".encode() for i in range(FLEET)}, "A fleet of tenants")
    yield git
    git.stop()


def tree(server: GitServer) -> dict[str, str]:
    """path -> blob id of every file on the branch."""
    listing = server.git("ls-tree", "-r", "main").splitlines()
    return {line.split("\t", 1)[1]: line.split()[2] for line in listing}


def test_a_write_adds_one_tenant_and_leaves_every_other_file_unchanged(server: GitServer) -> None:
    before = tree(server)
    r = DulwichGitOpsRepository(server.url, "main")
    change = apply_files(r, {"tenants/new.yaml": b"name: new\n", "remote/new/release.yaml": None}, "Add new")
    assert change.changed and server.head() == change.commit
    after = tree(server)
    assert after.pop("tenants/new.yaml") and server.read("tenants/new.yaml") == "name: new\n"
    assert after == before  # no other tenant's file was touched
    server.git("fsck", "--strict", "--no-dangling")


def test_the_snapshot_fetches_no_file_content_but_the_paths_asked_for(server: GitServer) -> None:
    r = DulwichGitOpsRepository(server.url, "main")
    snap = r.snapshot([tenant(7), "tenants/absent.yaml", "clusters/production/tenants.yaml"])
    assert snap.files[tenant(7)] == b"name: tenant-7\n"
    assert "tenants/absent.yaml" not in snap.files
    assert b"Kustomization" in snap.files["clusters/production/tenants.yaml"]
    blobs = [sha for sha, (kind, _raw) in r._store.objects.items() if kind == BLOB]
    assert len(blobs) == 2  # of 2,000+ files, only the two that exist among those asked for


def test_an_existing_tenant_is_changed_then_removed_and_a_re_apply_makes_no_commit(server: GitServer) -> None:
    r = DulwichGitOpsRepository(server.url, "main")
    assert apply_files(r, {tenant(5): b"name: tenant-5\n"}, "Same").changed is False
    apply_files(r, {tenant(5): b"name: renamed\n"}, "Change t5")
    assert server.read(tenant(5)) == "name: renamed\n"
    apply_files(r, {tenant(5): None}, "Remove t5")
    files = tree(server)
    assert tenant(5) not in files and tenant(4) in files and tenant(6) in files and len(files) > FLEET
    server.git("fsck", "--strict", "--no-dangling")


def test_removing_the_last_file_of_a_directory_removes_the_directory(server: GitServer) -> None:
    r = DulwichGitOpsRepository(server.url, "main")
    apply_files(r, {"remote/t-x/release.yaml": b"x: 1\n"}, "Add remote t-x")
    apply_files(r, {"remote/t-x/release.yaml": None}, "Remove remote t-x")
    assert not any(path.startswith("remote/t-x/") for path in tree(server))
    assert "t-x" not in server.git("ls-tree", "main", "remote/")


def test_a_push_onto_a_moved_branch_is_branch_moved_and_the_retry_keeps_both(server: GitServer) -> None:
    mine = DulwichGitOpsRepository(server.url, "main")
    base = mine.snapshot([]).sha
    server.commit_files({"tenants/theirs.yaml": b"theirs"}, "Theirs")
    with pytest.raises(BranchMoved):
        mine.commit(base, {"tenants/mine.yaml": b"mine"}, "Mine")
    assert server.log()[0] == "Theirs"
    server.move_branch_before_next_push()
    apply_files(mine, {"tenants/mine.yaml": b"mine"}, "Mine", sleep=lambda _: None)
    assert {"tenants/mine.yaml", "tenants/theirs.yaml", tenant(0)} <= set(tree(server))
    server.git("fsck", "--strict", "--no-dangling")


def test_a_server_without_object_filters_gets_a_whole_fetch_with_the_same_result(server: GitServer) -> None:
    server.git("config", "uploadpack.allowFilter", "false")
    before = tree(server)
    r = DulwichGitOpsRepository(server.url, "main")
    apply_files(r, {"tenants/new.yaml": b"new", tenant(3): b"changed"}, "Without filters")
    after = tree(server)
    assert server.read("tenants/new.yaml") == "new" and server.read(tenant(3)) == "changed"
    assert {p: s for p, s in after.items() if p not in ("tenants/new.yaml", tenant(3))} == {
        p: s for p, s in before.items() if p != tenant(3)
    }
    server.git("fsck", "--strict", "--no-dangling")


def test_the_first_write_to_a_branch_that_does_not_exist_yet_creates_it(tmp_path: Path) -> None:
    git = GitServer(tmp_path).start()
    try:
        git.git("update-ref", "-d", "refs/heads/main")  # a new, empty GitOps repository
        r = DulwichGitOpsRepository(git.url, "main")
        assert r.snapshot(["tenants/a.yaml"]).sha is None
        change = apply_files(r, {"tenants/a.yaml": b"a", "remote/a/release.yaml": None}, "First")
        assert git.head() == change.commit and git.files() == ["tenants/a.yaml"] and git.log() == ["First"]
        git.git("fsck", "--strict", "--no-dangling")
    finally:
        git.stop()


def sharded(i: int) -> str:
    return f"tenants/{i % 256:02x}/t-tenant-{i:05d}.yaml"


def test_with_top_trees_a_sharded_layout_is_read_and_written_through_its_own_shard_only(tmp_path: Path) -> None:
    git = GitServer(tmp_path).start()
    try:
        git.commit_files({sharded(i): f"name: {i}\n".encode() for i in range(FLEET)}, "A sharded fleet")
        before = tree(git)
        r = DulwichGitOpsRepository(git.url, "main", top_trees=2)
        snap = r.snapshot([sharded(7), "tenants/07/new.yaml", "remote/new/release.yaml"])
        assert snap.files == {sharded(7): b"name: 7\n"}
        trees = [sha for sha, (kind, _raw) in r._store.objects.items() if kind == TREE]
        assert len(trees) < 12  # the root, its top-level directories and one shard of 256
        r.commit(snap.sha, {"tenants/07/new.yaml": b"new", sharded(7): b"changed", sharded(8): None}, "Shards")
        after = tree(git)
        assert after.pop("tenants/07/new.yaml") and git.read(sharded(7)) == "changed"
        assert sharded(8) not in after
        expected = {p: s for p, s in before.items() if p not in (sharded(7), sharded(8))}
        assert {p: s for p, s in after.items() if p != sharded(7)} == expected
        git.git("fsck", "--strict", "--no-dangling")
    finally:
        git.stop()


# A kept base (BaseCache): what a warm Lambda container keeps between writes. Each test has its own cache.


def kept(git: GitServer, cache: BaseCache) -> int:
    """How many objects the cache keeps for ``git``'s branch (0: none)."""
    base = cache.get((git.url, b"refs/heads/main", b"blob:none"))
    return len(base.store.objects) if base is not None else 0


def test_a_warm_writer_reads_another_writers_commit_and_fetches_only_what_changed(server: GitServer) -> None:
    cache = BaseCache()
    apply_files(DulwichGitOpsRepository(server.url, "main", cache=cache), {"tenants/mine.yaml": b"mine"}, "Mine")
    held = kept(server, cache)
    assert held > 2  # the root, tenants/, clusters/... and the commit
    # Given another writer's commit on top of ours
    server.commit_files({tenant(3): b"changed by them", "tenants/theirs.yaml": b"theirs"}, "Theirs")
    # When a warm writer reads
    snap = DulwichGitOpsRepository(server.url, "main", cache=cache).snapshot([tenant(3), "tenants/theirs.yaml"])
    # Then it sees their files, having fetched their commit, its changed trees and the two blobs only
    assert snap.sha == server.head()
    assert snap.files == {tenant(3): b"changed by them", "tenants/theirs.yaml": b"theirs"}
    assert kept(server, cache) - held <= 6
    change = apply_files(DulwichGitOpsRepository(server.url, "main", cache=cache), {tenant(4): b"mine too"}, "More")
    assert server.head() == change.commit and server.read(tenant(4)) == "mine too"
    assert server.read("tenants/theirs.yaml") == "theirs" and server.read("tenants/mine.yaml") == "mine"
    server.git("fsck", "--strict", "--no-dangling")


def test_a_warm_writer_on_an_unmoved_branch_fetches_nothing(server: GitServer) -> None:
    cache = BaseCache()
    first = apply_files(DulwichGitOpsRepository(server.url, "main", cache=cache), {"tenants/a.yaml": b"a"}, "A")
    held = kept(server, cache)
    r = DulwichGitOpsRepository(server.url, "main", cache=cache)
    snap = r.snapshot(["tenants/a.yaml", tenant(9)])
    assert snap.sha == first.commit
    assert snap.files == {"tenants/a.yaml": b"a", tenant(9): b"name: tenant-9\n"}
    assert kept(server, cache) == held + 1  # the blob of tenant 9, fetched by id; no tree, no commit


def test_a_change_undone_since_the_kept_base_is_read_from_the_remote(server: GitServer) -> None:
    """A 'have' tells the server we hold the kept commit's ancestors too: the tenants/ tree of the seed, back
    after another writer undid our change, is one of theirs. Whether the server sends it again or takes it as
    held (then the writer fetches it by id), the writer reads the remote's content."""
    apply_files(DulwichGitOpsRepository(server.url, "main", cache=None), {tenant(5): b"ours"}, "Change 5")
    cache = BaseCache()
    assert DulwichGitOpsRepository(server.url, "main", cache=cache).snapshot([tenant(5)]).files == {tenant(5): b"ours"}
    server.commit_files({tenant(5): b"name: tenant-5\n"}, "Undo")  # tenants/ is again the seed's tree
    r = DulwichGitOpsRepository(server.url, "main", cache=cache)
    assert r.snapshot([tenant(5), tenant(6)]).files == {tenant(5): b"name: tenant-5\n", tenant(6): b"name: tenant-6\n"}
    change = apply_files(DulwichGitOpsRepository(server.url, "main", cache=cache), {tenant(6): b"six"}, "Six")
    assert server.head() == change.commit and server.read(tenant(6)) == "six"
    assert server.read(tenant(5)) == "name: tenant-5\n"
    server.git("fsck", "--strict", "--no-dangling")


def test_a_kept_base_the_remote_does_not_know_gets_the_full_fetch(server: GitServer) -> None:
    before = tree(server)
    cache = BaseCache()
    unknown = RawObjects({b"1" * 40: (1, b"tree " + b"2" * 40 + b"\n")})  # history rewritten since
    cache.put((server.url, b"refs/heads/main", b"blob:none"), ObjectID(b"1" * 40), unknown, cold_size=1)
    change = apply_files(DulwichGitOpsRepository(server.url, "main", cache=cache), {tenant(1): b"one"}, "One")
    assert server.head() == change.commit and server.read(tenant(1)) == "one"
    after = tree(server)
    assert {p: s for p, s in after.items() if p != tenant(1)} == {p: s for p, s in before.items() if p != tenant(1)}
    server.git("fsck", "--strict", "--no-dangling")


def test_a_warm_writer_against_a_server_without_object_filters(server: GitServer) -> None:
    server.git("config", "uploadpack.allowFilter", "false")
    cache = BaseCache()
    apply_files(DulwichGitOpsRepository(server.url, "main", cache=cache), {"tenants/a.yaml": b"a"}, "A")
    server.commit_files({tenant(2): b"two"}, "Theirs")
    change = apply_files(DulwichGitOpsRepository(server.url, "main", cache=cache), {tenant(3): b"three"}, "Mine")
    assert server.head() == change.commit
    assert (server.read(tenant(2)), server.read(tenant(3)), server.read("tenants/a.yaml")) == ("two", "three", "a")
    server.git("fsck", "--strict", "--no-dangling")


def test_a_kept_store_grown_far_past_its_cold_size_is_dropped() -> None:
    cache = BaseCache()
    key = ("git://example.invalid/x.git", b"refs/heads/main", b"blob:none")
    cache.put(key, ObjectID(b"1" * 40), RawObjects({b"%040d" % i: (3, b"") for i in range(5010)}), cold_size=4)
    assert cache.get(key) is None
    cache.put(key, ObjectID(b"1" * 40), RawObjects({b"1" * 40: (1, b"")}), cold_size=4)
    assert cache.get(key) is not None


def test_a_tree_missing_from_the_kept_store_is_fetched_by_id_with_the_snapshots_filter(server: GitServer) -> None:
    cache = BaseCache()
    r = DulwichGitOpsRepository(server.url, "main", cache=cache)
    head = r.snapshot([tenant(1)]).sha
    assert head is not None
    store = cache.get((server.url, b"refs/heads/main", b"blob:none")).store  # type: ignore[union-attr]
    root = store.raw(head.encode())[1][5:45]
    _pos, entry = find_entry(store.raw(root)[1], b"tenants/")
    assert entry is not None
    del store.objects[entry_id(store.raw(root)[1], entry)]  # as if the server had taken it as held
    filters: list[bytes | None] = []
    warm = DulwichGitOpsRepository(server.url, "main", cache=cache)
    fetch = warm._fetch

    def spy(*args: Any, **kwargs: Any) -> Any:
        filters.append(kwargs.get("filter_spec"))
        return fetch(*args, **kwargs)

    warm._fetch = spy  # type: ignore[method-assign]
    assert warm.snapshot([tenant(1), tenant(2)]).files == {
        tenant(1): b"name: tenant-1\n",
        tenant(2): b"name: tenant-2\n",
    }
    assert filters[:2] == [b"blob:none", b"blob:none"]  # the ref advertisement, then the tree by id: no tree:1


def test_a_thin_delta_against_a_tree_the_process_does_not_hold_means_a_cold_fetch(server: GitServer) -> None:
    cache = BaseCache()
    head = DulwichGitOpsRepository(server.url, "main", cache=cache).snapshot([tenant(1)]).sha
    assert head is not None
    kept_base = cache.get((server.url, b"refs/heads/main", b"blob:none"))
    assert kept_base is not None
    root = kept_base.store.raw(head.encode())[1][5:45]
    _pos, entry = find_entry(kept_base.store.raw(root)[1], b"tenants/")
    assert entry is not None
    del kept_base.store.objects[entry_id(kept_base.store.raw(root)[1], entry)]  # lost: the server will not know
    server.commit_files({tenant(1): b"changed by them"}, "Theirs")  # the new tenants/ tree: a delta against it
    haves: list[int] = []
    warm = DulwichGitOpsRepository(server.url, "main", cache=cache)
    fetch = warm._fetch

    def spy(*args: Any, **kwargs: Any) -> Any:
        haves.append(len(args[4]) if len(args) > 4 else 0)
        return fetch(*args, **kwargs)

    warm._fetch = spy  # type: ignore[method-assign]
    assert warm.snapshot([tenant(1), tenant(2)]).files == {
        tenant(1): b"changed by them",
        tenant(2): b"name: tenant-2\n",
    }
    assert haves[:2] == [1, 0]  # the warm fetch failed on the delta, the cold one did not
    change = apply_files(warm, {tenant(2): b"two"}, "Two")
    assert server.head() == change.commit and server.read(tenant(1)) == "changed by them"
    server.git("fsck", "--strict", "--no-dangling")


# What a push sends: only what the write created, whatever the fleet size.


class PackRecorder:
    """Wraps the adapter's git client and keeps the ids of the objects each push's pack holds."""

    def __init__(self, repo: DulwichGitOpsRepository) -> None:
        self.sent: list[set[str]] = []
        self._real = repo._client
        repo._client = self._client  # type: ignore[method-assign]

    def _client(self) -> tuple[Any, Any]:
        client, path = self._real()
        recorder = self

        class Client:
            def __getattr__(self, name: str) -> Any:
                return getattr(client, name)

            def send_pack(self, path: Any, update_refs: Any, pack_data: Any, **kwargs: Any) -> Any:
                def recording(have: Any, want: Any, **options: Any) -> Any:
                    count, records = pack_data(have, want, **options)
                    records = list(records)
                    assert count == len(records)
                    recorder.sent.append({record.sha().hex() for record in records})
                    return count, iter(records)

                return client.send_pack(path, update_refs, recording, **kwargs)

        return Client(), path


@pytest.mark.parametrize("fleet", [10, FLEET])
def test_a_push_sends_exactly_the_objects_its_write_created_whatever_the_fleet_size(tmp_path: Path, fleet: int) -> None:
    git = GitServer(tmp_path).start()
    try:
        git.commit_files({tenant_path(f"t-{i:05d}"): f"name: {i}\n".encode() for i in range(fleet)}, "A sharded fleet")
        cache = BaseCache()
        for mode, name in (("cold", "t-new-a"), ("warm", "t-new-b")):
            git.commit_files({tenant_path(f"t-other-{mode}"): b"theirs"}, "Another writer")  # the branch moved
            r = DulwichGitOpsRepository(git.url, "main", cache=cache)
            pack = PackRecorder(r)
            before = git.head()
            change = apply_files(r, {tenant_path(name): name.encode(), f"remote/{name}/x": None}, f"Onboard {name}")
            listing = git.git("rev-list", "--objects", change.commit, f"^{before}").splitlines()
            created = {line.split()[0] for line in listing}  # what the new commit has that its parent has not
            # The pack holds the new blob, the shard's tree, tenants/, the root tree and the commit: no more
            assert pack.sent == [created], mode
            assert len(created) == 5, mode
        git.git("fsck", "--strict", "--no-dangling")
    finally:
        git.stop()
