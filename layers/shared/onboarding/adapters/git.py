"""GitOps repository over dulwich: shallow fetch into memory, commit on top, push with a moved-branch check.

Works against any git remote dulwich speaks: ``https://`` (token as the password, never logged),
``git://`` and ``ssh://``. No working tree is written, so a Lambda needs no disk for it.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from dulwich.client import GitClient, HTTPProxyUnauthorized, HTTPUnauthorized, get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.object_store import commit_tree_changes
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import MemoryRepo

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


_FILE_MODE = stat.S_IFREG | 0o644


class DulwichGitOpsRepository:
    def __init__(
        self,
        url: str,
        branch: str,
        *,
        token: str | None = None,
        author: str = "Tenant Onboarding <onboarding@noreply.local>",
    ) -> None:
        self._url = url
        self._ref = Ref(f"refs/heads/{branch}".encode())
        self._token = token
        self._author = author.encode()
        self._repo: MemoryRepo | None = None
        self._base: ObjectID | None = None

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

    def snapshot(self, paths: Sequence[str]) -> Snapshot:
        client, path = self._client()
        repo = MemoryRepo()

        def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
            sha = refs.get(self._ref)
            return [sha] if sha and sha != ZERO_SHA else []

        try:
            result = client.fetch(path, repo, determine_wants=wants, depth=1)
        except REMOTE_ERRORS as exc:
            raise remote_error(exc, f"cannot fetch {self._ref.decode()} from {self._url}") from exc
        head = result.refs.get(self._ref)
        self._repo, self._base = repo, head if head and head != ZERO_SHA else None
        if self._base is None:
            return Snapshot(sha=None, files={})
        head_commit = repo[self._base]
        assert isinstance(head_commit, Commit)
        tree = repo[head_commit.tree]
        assert isinstance(tree, Tree)
        files: dict[str, bytes] = {}
        for p in paths:
            blob = _lookup(repo, tree, p)
            if blob is not None:
                files[p] = blob
        return Snapshot(sha=self._base.decode(), files=files)

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        repo = self._repo
        if repo is None or (self._base.decode() if self._base else None) != base:
            raise RuntimeError("commit() must follow snapshot() of the same base")
        store = repo.object_store
        tree_changes: list[tuple[bytes, int | None, ObjectID | None]] = []
        for p, content in sorted(changes.items()):
            if content is None:
                tree_changes.append((p.encode(), None, None))
            else:
                blob = Blob.from_string(content)
                store.add_object(blob)
                tree_changes.append((p.encode(), _FILE_MODE, blob.id))
        if self._base is not None:
            base_commit = repo[self._base]
            assert isinstance(base_commit, Commit)
            base_tree: Tree | ObjectID = base_commit.tree
        else:
            empty = Tree()
            store.add_object(empty)
            base_tree = empty
        new_tree = commit_tree_changes(store, base_tree, tree_changes)
        commit = Commit()
        commit.tree = new_tree
        commit.parents = [self._base] if self._base else []
        commit.author = commit.committer = self._author
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode("utf-8")
        store.add_object(commit)
        expected = self._base or ZERO_SHA
        moved: list[ObjectID] = []

        def update_refs(refs: dict[Any, ObjectID]) -> dict[Any, ObjectID]:
            current = refs.get(self._ref, ZERO_SHA)
            if current != expected:
                moved.append(current)
                return dict(refs)  # send no update; reported as BranchMoved below
            return {**refs, self._ref: commit.id}

        def pack_data(have: Any, want: Any, *, ofs_delta: bool = True, progress: Any = None) -> Any:
            # The fetch was shallow: only the base commit is known, so it is both the only "have"
            # and the shallow boundary; the pack holds exactly the new blobs, trees and commit.
            known: list[ObjectID] = [self._base] if self._base else []
            return store.generate_pack_data(known, want, shallow=set(known), progress=progress, ofs_delta=ofs_delta)

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
            self._repo, self._base = None, None
            return commit.id.decode()
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
        self._repo, self._base = None, None
        return commit.id.decode()

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


def _lookup(repo: MemoryRepo, tree: Tree, path: str) -> bytes | None:
    obj: Tree | Blob = tree
    for part in path.encode().split(b"/"):
        if not isinstance(obj, Tree) or part not in obj:
            return None
        _mode, sha = obj[part]
        obj = repo[sha]  # type: ignore[assignment]
    return obj.data if isinstance(obj, Blob) else None
