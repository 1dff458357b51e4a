"""What a GitOps write keeps and receives, raw (onboarding.adapters.git): the per-process cache of the last base
commit's objects, the target dulwich's fetch writes a pack into, and the pack records a push sends."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.object_store import ObjectStoreGraphWalker
from dulwich.objects import ObjectID
from dulwich.pack import PackData, UnpackedObject, UnpackedObjectIterator

from onboarding.adapters.gittrees import NewObject, RawObjects, entry_id, find_entry


@dataclass
class Base:
    commit: ObjectID
    store: RawObjects
    cold_size: int  # objects after the cold fetch: the kept store is dropped when it grows far past this


class BaseCache:
    """The last known commit of each (remote, branch) with the objects read or written for it, per process.

    Objects are content-addressed and immutable, so a store shared between writers of one process (threads)
    only ever gains objects; what a writer reads is still decided by the remote's head, fetched each time.
    A store that grew past twice its cold size (superseded trees, fetched blobs) is dropped: the next write
    is cold again, so memory stays bounded by a few times the repository's trees.
    """

    def __init__(self) -> None:
        self._bases: dict[tuple[str, bytes, bytes], Base] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, bytes, bytes]) -> Base | None:
        with self._lock:
            return self._bases.get(key)

    def put(self, key: tuple[str, bytes, bytes], commit: ObjectID, store: RawObjects, cold_size: int) -> None:
        if len(store.objects) > 2 * cold_size + 5000:
            self.drop(key)
            return
        with self._lock:
            self._bases[key] = Base(commit, store, cold_size)

    def drop(self, key: tuple[str, bytes, bytes] | None = None) -> None:
        with self._lock:
            if key is None:
                self._bases.clear()
            else:
                self._bases.pop(key, None)


BASES = BaseCache()  # module state: kept across the warm invocations of one Lambda container


def first_missing_tree(store: RawObjects, root: bytes, path: str) -> bytes | None:
    """The first tree on the way to ``path`` that ``store`` lacks (None: every one there is present)."""
    current = root
    for part in path.encode().split(b"/")[:-1]:
        if current not in store:
            return current
        raw = store.raw(current)[1]
        _pos, entry = find_entry(raw, part + b"/")
        if entry is None:
            return None
        current = entry_id(raw, entry)
    return None if current in store else current


class RawTarget:
    """What dulwich's fetch writes into: the received pack's objects kept raw, none parsed; ``haves`` are
    the commits named as already held (the kept base), whose objects a thin pack may use as delta bases."""

    object_format = DEFAULT_OBJECT_FORMAT

    def __init__(self, store: RawObjects, haves: Sequence[ObjectID] = ()) -> None:
        self.object_store = self
        self._store = store
        self._haves = list(haves)

    def _base(self, sha: bytes) -> tuple[int, bytes]:
        return self._store.raw(sha.hex().encode() if len(sha) == 20 else sha)  # KeyError: not held

    def _add(self, data: bytes) -> None:
        if not data:
            return
        pack = PackData.from_file(io.BytesIO(data), DEFAULT_OBJECT_FORMAT, size=len(data))
        for obj in UnpackedObjectIterator.for_pack_data(pack, resolve_ext_ref=self._base):
            assert obj.obj_type_num is not None and obj.obj_chunks is not None
            self._store.objects[obj.sha().hex().encode()] = (obj.obj_type_num, b"".join(obj.obj_chunks))

    def add_thin_pack(self, read: Any, *args: Any, **kwargs: Any) -> None:
        self._add(read())

    def add_pack(self) -> tuple[Any, Any, Any]:
        buf = io.BytesIO()
        return buf, lambda: self._add(buf.getvalue()), lambda: None

    def get_graph_walker(self) -> ObjectStoreGraphWalker:
        return ObjectStoreGraphWalker(self._haves, lambda sha: [])  # the haves only, never their parents

    def update_shallow(self, *args: Any) -> None:
        pass  # nothing is kept beyond this write


def unpacked(obj: NewObject) -> UnpackedObject:
    """A pack record: a whole object, or a delta against an object the remote has (sent as REF_DELTA)."""
    sha = bytes.fromhex(obj.id.decode())
    if obj.base is None:
        return UnpackedObject(obj.type_num, sha=sha, decomp_chunks=[obj.data])
    return UnpackedObject(7, sha=sha, delta_base=bytes.fromhex(obj.base.decode()), decomp_chunks=[obj.data])
