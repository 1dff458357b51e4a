"""GitOps repository over dulwich: a tree-only fetch into memory, commit on top, push with a moved-branch check.

Works against any git remote dulwich speaks: ``https://`` (token as the password, never logged),
``git://`` and ``ssh://``. No working tree is written, so a Lambda needs no disk for it.

The client's work on a write does not grow with the number of tenants in the repository; the server's does
with the flat layout's one big ``tenants/`` tree, not with the sharded layout (docs/production-path.md §2,
docs/benchmarks.md):
- the snapshot is a depth-1 fetch with the protocol-v2 filter ``blob:none``: the head commit and its
  trees, no file content. Only the blobs of the paths asked for that exist are fetched, by id, in a
  second request (protocol v2 allows any object as a want). A server without v2 filters gets the
  plain depth-1 fetch instead: the same result, at the cost of every blob;
- objects are kept raw and only the trees on the asked paths are read, by a binary search (never a
  whole-tree parse); the commit rewrites only the trees along the changed paths, and the push sends
  exactly the objects it created, a big tree as a delta against its base (onboarding.adapters.gittrees);
- the trees of the last commit this process read or pushed are kept in memory (``BaseCache``; a warm
  Lambda keeps its module state, as it keeps /tmp) keyed by remote, branch and filter. The next snapshot
  names that commit as a ``have``, with no depth: when the branch has not moved nothing but the ref
  advertisement is exchanged; when it has, the server sends the commits since and the trees they changed,
  as a thin pack (deltas against the kept trees; with a depth, or without a thin pack, git sends every tree
  again). The server takes the kept commit's ancestors as held too: a delta against an object this process
  does not hold means a cold fetch, and a tree missing on an asked path (a change undone) is fetched by id.
  A cold process gets the depth-1 fetch. The cache only ever saves transfer, it never decides content
  (objects are kept by id, and the head is always the remote's, read on each snapshot).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from dulwich.client import GitClient, HTTPProxyUnauthorized, HTTPUnauthorized, get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import Commit, ObjectID
from dulwich.pack import UnresolvedDeltas
from dulwich.refs import Ref

from onboarding.adapters.gitbase import BASES, Base, BaseCache, RawTarget, first_missing_tree, unpacked
from onboarding.adapters.gittrees import (
    BLOB,
    TREE,
    NewObject,
    RawObjects,
    blob_id_at,
    edit_tree,
    object_id,
)
from onboarding.errors import BranchMoved, GitOpsPushRejected, GitRemoteUnavailable, TransientError
from onboarding.ports import Snapshot

ZERO_SHA = ObjectID(b"0" * 40)
# Everything dulwich raises for an unreachable, unauthorized or missing remote.
REMOTE_ERRORS = (OSError, GitProtocolError, HangupException, HTTPUnauthorized, HTTPProxyUnauthorized, NotGitRepository)
# Of those, a refused authentication, a missing repository or a refused connection (nothing listens:
# nothing can have been sent) is permanent; a reset, a timeout or a hang-up is transient, and after a
# push the remote ref says whether it landed.
PERMANENT_ERRORS = (HTTPUnauthorized, HTTPProxyUnauthorized, NotGitRepository, ConnectionRefusedError)


def remote_error(exc: Exception, what: str) -> Exception:
    """Translate a dulwich/socket failure: permanent (auth, missing repository) or transient."""
    if isinstance(exc, PERMANENT_ERRORS) or (isinstance(exc, GitProtocolError) and "404" in str(exc)):
        return GitRemoteUnavailable(f"{what}: {exc}")
    return TransientError(f"{what}: {type(exc).__name__}: {exc}")


# The snapshot's object filter: trees and commits only (git rev-list --filter syntax).
TREES_ONLY = b"blob:none"


class DulwichGitOpsRepository:
    def __init__(
        self,
        url: str,
        branch: str,
        *,
        token: str | None = None,
        author: str = "Tenant Onboarding <onboarding@noreply.local>",
        tree_only: bool = True,
        top_trees: int | None = None,
        cache: BaseCache | None = BASES,
    ) -> None:
        """``tree_only`` False: fetch the whole tree, blobs too (a baseline). ``top_trees`` N: fetch only the
        trees N-1 levels deep (protocol-v2 filter ``tree:N``), then the deeper trees on the asked paths by id:
        for a sharded layout, whose deeper directories must not all be fetched (needs ``tree:N`` filters).
        ``cache`` None: every snapshot is a cold fetch (what a new Lambda container does)."""
        self._url = url
        self._ref = Ref(f"refs/heads/{branch}".encode())
        self._token = token
        self._author = author.encode()
        self._store: RawObjects
        self._base: ObjectID | None = None
        self._filter = TREES_ONLY if tree_only else None
        self._top_trees = top_trees
        self._cache = cache
        self._cold_size = 0
        if top_trees is not None:
            self._filter = b"tree:%d" % top_trees

    def __repr__(self) -> str:  # the token must never reach a log line
        return f"DulwichGitOpsRepository(url={self._url!r}, ref={self._ref.decode()!r})"

    def _client(self) -> tuple[GitClient, Any]:
        https = bool(self._token) and urlparse(self._url).scheme in ("http", "https")
        try:
            return get_transport_and_path(
                self._url,
                username="x-access-token" if https else None,
                password=self._token if https else None,
            )
        except ValueError as exc:
            raise GitRemoteUnavailable(f"unsupported GitOps remote URL {self._url!r}") from exc

    @property
    def _key(self) -> tuple[str, bytes, bytes]:
        return self._url, bytes(self._ref), self._filter or b""

    def _fetch(
        self, client: GitClient, path: Any, wants: Any, into: RawObjects, haves: Sequence[ObjectID] = (), **kwargs: Any
    ) -> Any:
        """One upload-pack request; the objects received are added to ``into`` raw (a thin pack's deltas
        resolved against ``into``)."""
        return client.fetch(path, RawTarget(into, haves), determine_wants=wants, **kwargs)  # type: ignore[arg-type]

    def _fetch_head(self, client: GitClient, path: Any, kept: Base | None) -> tuple[Any, RawObjects, Base | None]:
        """The depth-1 fetch of the branch head into the kept store (naming the kept commit as a have), or into
        a new one; a thin pack's delta against an object this process never held means a cold fetch instead."""
        store = kept.store if kept is not None else RawObjects()

        def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
            sha = refs.get(self._ref)
            # The kept commit is the head: nothing to fetch (its trees are all kept, or fetched by id below).
            return [sha] if sha and sha != ZERO_SHA and sha not in store else []

        haves = [kept.commit] if kept is not None else []
        try:
            # Against a kept base no depth: a shallow request makes the server mark the base's whole tree as known
            # (5 ms of its CPU at 10,000 sharded tenants); without one, only the paths that changed are compared.
            depth = None if haves else 1
            return self._fetch(client, path, wants, store, haves, depth=depth, filter_spec=self._filter), store, kept
        except REMOTE_ERRORS as exc:
            raise remote_error(exc, f"cannot fetch {self._ref.decode()} from {self._url}") from exc
        except UnresolvedDeltas as exc:
            if kept is None:
                raise TransientError(f"{self._url} sent deltas against objects not asked for") from exc
        if self._cache is not None:
            self._cache.drop(self._key)
        return self._fetch_head(client, path, None)

    def snapshot(self, paths: Sequence[str]) -> Snapshot:
        kept = self._cache.get(self._key) if self._cache is not None else None
        client, path = self._client()  # one client (and its connection pool) for the snapshot's requests
        result, store, kept = self._fetch_head(client, path, kept)
        head = result.refs.get(self._ref)
        self._store, self._base = store, head if head and head != ZERO_SHA else None
        self._cold_size = kept.cold_size if kept is not None else len(store.objects)
        if self._base is None:
            if self._cache is not None:
                self._cache.drop(self._key)
            return Snapshot(sha=None, files={})
        if self._base not in store:
            raise TransientError(f"{self._url} did not send the head commit {self._base.decode()}")
        if self._cache is not None:  # a write that changes nothing still leaves the next one a base
            self._cache.put(self._key, self._base, store, self._cold_size)
        tree = self._tree_of(self._base)
        self._fetch_trees(client, path, tree, paths)
        found = {p: sha for p in paths if (sha := blob_id_at(store, tree, p)) is not None}
        missing = sorted({sha for sha in found.values() if sha not in store})
        if missing:
            # Blobs by id, no haves, no filter: protocol v2 allows any object as a want.
            try:
                self._fetch(client, path, lambda refs, depth=None: missing, store)
            except REMOTE_ERRORS as exc:
                raise remote_error(exc, f"cannot fetch {len(missing)} files from {self._url}") from exc
        files: dict[str, bytes] = {}
        for p, sha in found.items():
            if sha not in store or store.raw(sha)[0] != BLOB:
                raise TransientError(f"{self._url} did not send the content of {p}")
            files[p] = store.raw(sha)[1]
        return Snapshot(sha=self._base.decode(), files=files)

    def _fetch_trees(self, client: GitClient, path: Any, root: bytes, paths: Sequence[str]) -> None:
        """Fetch by id the trees on ``paths`` the first fetch left out, a level a request: with ``top_trees``, the
        deeper trees; after a fetch against a kept base, a tree the server took us to hold because an ancestor
        of the base has it (a change undone). Nothing is requested when every tree is there. With ``top_trees`` a
        tree is asked for alone (``tree:1``); else with the snapshot's own filter (``blob:none``: the tree and those
        below it), which any service offering partial clone serves (GitHub documents ``tree:0`` as its only tree
        filter)."""
        by_id = b"tree:1" if self._top_trees is not None else self._filter
        for _level in range(64):
            needed = sorted({t for p in paths if (t := first_missing_tree(self._store, root, p)) is not None})
            if not needed:
                return
            try:
                self._fetch(client, path, lambda refs, depth=None, ids=needed: ids, self._store, filter_spec=by_id)
            except REMOTE_ERRORS as exc:
                raise remote_error(exc, f"cannot fetch {len(needed)} trees from {self._url}") from exc
            if any(t not in self._store for t in needed):
                raise TransientError(f"{self._url} did not send the trees asked for")

    def _tree_of(self, commit_id: ObjectID) -> bytes:
        _type, raw = self._store.raw(commit_id)
        if not raw.startswith(b"tree "):
            raise TransientError(f"{self._url} sent a malformed commit {commit_id.decode()}")
        return raw[5:45]

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        if not hasattr(self, "_store") or (self._base.decode() if self._base else None) != base:
            raise RuntimeError("commit() must follow snapshot() of the same base")
        base_tree = self._tree_of(self._base) if self._base is not None else None
        if base_tree is not None:
            self._fetch_trees(*self._client(), base_tree, list(changes))
        new_tree, created = edit_tree(self._store, base_tree, changes)
        if new_tree is None:  # every file deleted (or none yet): git's empty tree
            empty = NewObject(TREE, object_id(TREE, b""), b"")
            new_tree, created = empty.id, [*created, empty]
        commit = Commit()
        commit.tree = ObjectID(new_tree)
        commit.parents = [self._base] if self._base else []
        commit.author = commit.committer = self._author
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode("utf-8")
        created.append(NewObject(1, commit.id, commit.as_raw_string()))
        self._store.objects[commit.id] = (1, commit.as_raw_string())
        expected = self._base or ZERO_SHA
        moved: list[ObjectID] = []

        def update_refs(refs: dict[Any, ObjectID]) -> dict[Any, ObjectID]:
            current = refs.get(self._ref, ZERO_SHA)
            if current != expected:
                moved.append(current)
                return dict(refs)  # send no update; reported as BranchMoved below
            return {**refs, self._ref: commit.id}

        def pack_data(have: Any, want: Any, *, ofs_delta: bool = True, progress: Any = None) -> Any:
            # Everything else the new commit references is the base's, which the remote has: the pack
            # holds exactly the new blobs, the rewritten trees (a big one as a delta against its base,
            # which the remote has) and the commit, whatever the tree's size.
            return len(created), iter([unpacked(obj) for obj in created])

        client, path = self._client()
        try:
            result = client.send_pack(path, update_refs, pack_data)
        except REMOTE_ERRORS as exc:
            if isinstance(exc, PERMANENT_ERRORS):
                raise remote_error(exc, f"cannot push to {self._url}") from exc
            # The reply was lost: the push may or may not have landed. Ask the remote before anyone acts.
            head = self._head_after_lost_reply(exc)
            if head != commit.id:
                if head != expected:
                    raise BranchMoved(f"{self._ref.decode()} moved while our push lost its reply") from exc
                raise remote_error(exc, f"push to {self._url} did not land") from exc
            return self._landed(commit.id)
        if moved:
            raise BranchMoved(f"{self._ref.decode()} moved from {expected.decode()[:12]} to {moved[0].decode()[:12]}")
        status = (result.ref_status or {}).get(self._ref)
        if status is not None:
            # The server refused the update: find out whether another writer got there first.
            try:
                now = client.get_refs(path).refs.get(self._ref, ZERO_SHA)
            except REMOTE_ERRORS as exc:
                raise TransientError(f"push to {self._url} was refused ({status}) and refs are unreadable") from exc
            if now != expected:
                raise BranchMoved(f"{self._ref.decode()} moved during push: {status}")
            raise GitOpsPushRejected(f"{self._url} refused the push to {self._ref.decode()}: {status}")
        return self._landed(commit.id)

    def _landed(self, commit_id: ObjectID) -> str:
        """The push landed: its commit, whose every tree this store holds or names, is the next base."""
        if self._cache is not None:
            self._cache.put(self._key, commit_id, self._store, self._cold_size)
        self._base = None
        del self._store
        return commit_id.decode()

    def _head_after_lost_reply(self, cause: Exception) -> ObjectID:
        """After a lost reply: the branch head, which says whether the push landed.

        Raises TransientError when even the ref cannot be read: nothing is known, so the caller
        retries (a re-applied desired state is idempotent) rather than assuming either outcome.
        """
        client, path = self._client()
        try:
            now: ObjectID = client.get_refs(path).refs.get(self._ref) or ZERO_SHA
        except REMOTE_ERRORS as exc:
            raise TransientError(
                f"push to {self._url} lost its reply ({type(cause).__name__}) and its outcome is unknown: {exc}"
            ) from exc
        return now
