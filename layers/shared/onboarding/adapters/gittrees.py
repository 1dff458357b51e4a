"""Git trees read and edited as raw bytes, along the changed paths only: a write's cost is not the tree's size.

A commit must reference a full root tree, but building one only rewrites the trees on the path of each
change; every other entry is kept by its id, so unchanged subtrees and blobs need not be present. A big
tree (``tenants/`` with one file per tenant) is never parsed whole: an entry is found by a binary search
over its raw bytes, the edit is a splice, and the push sends the new tree as a delta against the base
tree the remote already has (a few dozen bytes instead of the whole tree).
"""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field

FILE_MODE = stat.S_IFREG | 0o644
DIR_MODE = stat.S_IFDIR
TREE, BLOB = 2, 3  # pack type numbers
DELTA_ABOVE = 1024  # a rewritten tree bigger than this is sent as a delta against its base
_ENTRY = re.compile(rb"([0-7]{5,6}) ([^\0/]+)\0", re.S)


def object_id(type_num: int, raw: bytes) -> bytes:
    kind = {1: b"commit", TREE: b"tree", BLOB: b"blob"}[type_num]
    return hashlib.sha1(b"%s %d\0" % (kind, len(raw)) + raw).hexdigest().encode()  # noqa: S324 (git ids)


@dataclass
class NewObject:
    """An object a write creates: full content, or a delta against ``base`` (an id the remote has)."""

    type_num: int
    id: bytes
    data: bytes
    base: bytes | None = None


@dataclass
class RawObjects:
    """Objects by hex id as (type number, raw content): nothing is parsed until a path asks for it."""

    objects: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)

    def __contains__(self, sha: bytes) -> bool:
        return sha in self.objects

    def raw(self, sha: bytes) -> tuple[int, bytes]:
        return self.objects[sha]


def _key(name: bytes, mode: int) -> bytes:
    return name + b"/" if stat.S_ISDIR(mode) else name  # git's tree order: a directory sorts as name + "/"


def _entry_at(raw: bytes, pos: int) -> tuple[int, bytes, int] | None:
    """(mode, name, end) of the entry starting at ``pos``, or None when none can start there."""
    m = _ENTRY.match(raw, pos)
    if m is None or m.end() + 20 > len(raw):
        return None
    return int(m.group(1), 8), m.group(2), m.end() + 20


def _next_start(raw: bytes, pos: int) -> int:
    """The first entry start at or after ``pos`` (len(raw) when none): each entry ends 20 bytes after a NUL."""
    if pos <= 0:
        return 0
    nul = raw.find(b"\0", max(pos - 21, 0))
    while nul != -1:
        start = nul + 21
        if start >= pos:
            if start >= len(raw):
                return len(raw)
            entry = _entry_at(raw, start)
            if entry is not None and (entry[2] == len(raw) or _entry_at(raw, entry[2]) is not None):
                return start
        nul = raw.find(b"\0", nul + 1)
    return len(raw)


def find_entry(raw: bytes, key: bytes) -> tuple[int, tuple[int, bytes, int] | None]:
    """Where ``key`` is or would be in a raw tree: (offset, the entry there when its key equals ``key``)."""
    lo, hi = 0, len(raw)
    while lo < hi:
        mid = _next_start(raw, (lo + hi) // 2)
        if mid >= hi:
            break  # no entry starts in the upper half: the few left are scanned below
        entry = _entry_at(raw, mid)
        assert entry is not None
        if _key(entry[1], entry[0]) < key:
            lo = entry[2]
        else:
            hi = mid
    while lo < len(raw):
        entry = _entry_at(raw, lo)
        if entry is None:
            raise ValueError("malformed tree")
        found = _key(entry[1], entry[0])
        if found >= key:
            return lo, entry if found == key else None
        lo = entry[2]
    return lo, None


def entry_id(raw: bytes, entry: tuple[int, bytes, int]) -> bytes:
    return raw[entry[2] - 20 : entry[2]].hex().encode()


def blob_id_at(store: RawObjects, tree_id: bytes, path: str) -> bytes | None:
    """The id of the blob at ``path`` under ``tree_id`` (None when absent); only the trees on the path are read."""
    parts = path.encode().split(b"/")
    current = tree_id
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        _type, raw = store.raw(current)
        _pos, entry = find_entry(raw, part if last else part + b"/")
        if entry is None:
            return None
        current = entry_id(raw, entry)
    return current


def edit_tree(
    store: RawObjects, tree_id: bytes | None, changes: Mapping[str, bytes | None]
) -> tuple[bytes | None, list[NewObject]]:
    """Apply ``changes`` (path -> content, None deletes) to ``tree_id`` (None: empty).

    Returns the new tree's id (None when it ends up empty) and the objects created, also added to
    ``store``. A directory left empty by deletions is removed, as git itself never stores one.
    """
    created: dict[bytes, NewObject] = {}
    nested = {tuple(path.encode().split(b"/")): content for path, content in changes.items()}
    new_id = _edit(store, tree_id, nested, created)
    return new_id, list(created.values())


def _edit(
    store: RawObjects,
    tree_id: bytes | None,
    changes: Mapping[tuple[bytes, ...], bytes | None],
    created: dict[bytes, NewObject],
) -> bytes | None:
    raw = store.raw(tree_id)[1] if tree_id is not None else b""
    below: dict[bytes, dict[tuple[bytes, ...], bytes | None]] = {}
    wanted: dict[bytes, tuple[int, bytes] | None] = {}  # name -> (mode, id) or None: absent
    for parts, content in changes.items():
        if len(parts) > 1:
            below.setdefault(parts[0], {})[parts[1:]] = content
        elif content is None:
            wanted[parts[0]] = None
        else:
            blob_id = object_id(BLOB, content)
            store.objects[blob_id] = (BLOB, content)
            created[blob_id] = NewObject(BLOB, blob_id, content)
            wanted[parts[0]] = (FILE_MODE, blob_id)
    for name, sub_changes in below.items():
        _pos, entry = find_entry(raw, name + b"/")
        sub_new = _edit(store, entry_id(raw, entry) if entry else None, sub_changes, created)
        wanted[name] = (DIR_MODE, sub_new) if sub_new is not None else None
        if sub_new is None and entry is None:
            wanted.pop(name)  # nothing was there and nothing is: leave a file of that name alone
    edits: list[tuple[int, int, bytes, bytes]] = []  # (start, end, key, inserted) against the base
    for name, new in wanted.items():
        for key in (name, name + b"/"):  # whatever is there now, file or directory, goes
            pos, entry = find_entry(raw, key)
            if entry is not None:
                edits.append((pos, entry[2], key, b""))
        if new is not None:
            pos, _entry = find_entry(raw, _key(name, new[0]))
            entry_bytes = b"%o %s\0" % (new[0], name) + bytes.fromhex(new[1].decode())
            edits.append((pos, pos, _key(name, new[0]), entry_bytes))
    edits.sort()  # inserts at one offset go in git's order
    pieces: list[bytes] = []
    copies: list[tuple[int, int] | bytes] = []
    cursor = 0
    for start, end, _k, inserted in edits:
        pieces += [raw[cursor:start], inserted]
        copies += [(cursor, start - cursor), inserted]
        cursor = max(cursor, end)
    pieces.append(raw[cursor:])
    copies.append((cursor, len(raw) - cursor))
    new_raw = b"".join(pieces)
    if tree_id is not None and new_raw == raw:
        return tree_id
    if not new_raw:
        return None
    new_id = object_id(TREE, new_raw)
    store.objects[new_id] = (TREE, new_raw)
    if tree_id is not None and len(new_raw) > DELTA_ABOVE:
        created[new_id] = NewObject(TREE, new_id, _delta(len(raw), len(new_raw), copies), base=tree_id)
    else:
        created[new_id] = NewObject(TREE, new_id, new_raw)
    return new_id


def _size(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _delta(base_len: int, new_len: int, ops: list[tuple[int, int] | bytes]) -> bytes:
    """A git delta (pack format): copies from the base, (offset, length), and literal inserts."""
    out = bytearray(_size(base_len) + _size(new_len))
    for op in ops:
        if isinstance(op, bytes):
            for i in range(0, len(op), 127):
                out.append(len(op[i : i + 127]))
                out += op[i : i + 127]
            continue
        offset, length = op
        while length > 0:
            size = min(length, 0x10000)
            cmd, args = 0x80, bytearray()
            for i in range(4):
                if (offset >> (8 * i)) & 0xFF:
                    cmd |= 1 << i
                    args.append((offset >> (8 * i)) & 0xFF)
            if size != 0x10000:  # a size of zero bytes means 0x10000
                for i in range(3):
                    if (size >> (8 * i)) & 0xFF:
                        cmd |= 0x10 << i
                        args.append((size >> (8 * i)) & 0xFF)
            out.append(cmd)
            out += args
            offset, length = offset + size, length - size
    return bytes(out)
