"""Raw git tree edits (onboarding.adapters.gittrees) agree with dulwich's own tree objects, byte for byte."""

from __future__ import annotations

import random
import stat

import pytest
from dulwich.object_store import MemoryObjectStore
from dulwich.objects import Blob, ObjectID, Tree
from dulwich.pack import apply_delta

from onboarding.adapters.gittrees import TREE, RawObjects, blob_id_at, edit_tree, find_entry

# Names that sort next to each other in git's order, where a directory sorts as its name plus "/".
TRICKY = ["a", "a.b", "a-b", "a0", "a_", "b", "ab", "z", "é.yaml", "t-1.yaml", "t-10.yaml", "t-2.yaml"]


def dulwich_tree(files: dict[str, bytes]) -> tuple[MemoryObjectStore, bytes]:
    """The tree of ``files`` built with dulwich's own objects, from nothing (the reference)."""
    store = MemoryObjectStore()

    def build(entries: dict[tuple[str, ...], bytes]) -> ObjectID:
        tree = Tree()
        below: dict[str, dict[tuple[str, ...], bytes]] = {}
        for parts, content in entries.items():
            if len(parts) == 1:
                blob = Blob.from_string(content)
                store.add_object(blob)
                tree.add(parts[0].encode(), stat.S_IFREG | 0o644, blob.id)
            else:
                below.setdefault(parts[0], {})[parts[1:]] = content
        for name, sub in below.items():
            tree.add(name.encode(), stat.S_IFDIR, build(sub))
        store.add_object(tree)
        return tree.id

    return store, build({tuple(path.split("/")): content for path, content in files.items()})


def raw_copy(store: MemoryObjectStore) -> RawObjects:
    raw = RawObjects()
    for sha in store:
        obj = store[sha]
        if isinstance(obj, Tree):  # trees only, as a blob:none fetch brings them
            raw.objects[sha] = (TREE, obj.as_raw_string())
    return raw


def random_files(rng: random.Random, n: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for i in range(n):
        depth = rng.choice([1, 2, 2, 3])
        parts = [rng.choice(TRICKY) for _ in range(depth - 1)] + [rng.choice([*TRICKY, f"t-{i}.yaml"])]
        path = "/".join(parts)
        # a file and a directory cannot share a path
        if any(p.startswith(path + "/") or path.startswith(p + "/") for p in files):
            continue
        files[path] = f"{path} {rng.random()}".encode()
    return files


@pytest.mark.parametrize("seed", range(40))
def test_random_edits_build_the_tree_dulwich_builds_and_a_delta_that_reproduces_it(seed: int) -> None:
    rng = random.Random(seed)
    files = random_files(rng, rng.choice([3, 30, 300]))
    store, base = dulwich_tree(files)
    # Given random adds, changes and deletions (some of paths that do not exist)
    edits: dict[str, bytes | None] = {}
    for path in rng.sample(sorted(files), k=min(len(files), rng.randint(1, 6))):
        edits[path] = None if rng.random() < 0.5 else b"changed " + path.encode()
    kept = {p for p in files if edits.get(p, b"") is not None}
    for extra in random_files(rng, 4):
        if not any(p.startswith(extra + "/") or extra.startswith(p + "/") for p in kept):
            edits.setdefault(extra, b"new")
            kept.add(extra)
    edits["nowhere/absent.yaml"] = None
    kept_files = {p: c for p, c in {**files, **edits}.items() if c is not None}
    want = dulwich_tree(kept_files)[1]

    # When the raw edit is applied to the trees alone
    raw = raw_copy(store)
    new_id, created = edit_tree(raw, base, edits)

    # Then the new root is the tree dulwich builds, and every created object is what the push must send
    assert (new_id or Tree().id) == want
    for obj in created:
        sent = b"".join(apply_delta(raw.raw(obj.base)[1], obj.data)) if obj.base else obj.data
        assert raw.raw(obj.id)[1] == sent
    for path, content in kept_files.items():
        blob = blob_id_at(raw, new_id, path) if new_id else None
        assert blob == Blob.from_string(content).id


def test_a_big_tree_is_edited_by_a_small_delta_and_read_without_parsing_it() -> None:
    files = {f"tenants/t-{i:05d}-0123456789.yaml": f"tenant {i}".encode() for i in range(5000)}
    store, base = dulwich_tree(files)
    raw = raw_copy(store)
    new_id, created = edit_tree(raw, base, {"tenants/t-02500-new.yaml": b"new tenant"})
    tenants = next(obj for obj in created if obj.base is not None)
    assert len(tenants.data) < 200  # the whole tree is ~290 KB
    assert new_id is not None
    assert blob_id_at(raw, new_id, "tenants/t-02500-new.yaml") == Blob.from_string(b"new tenant").id
    assert blob_id_at(raw, new_id, "tenants/t-04999-0123456789.yaml") == Blob.from_string(b"tenant 4999").id
    assert blob_id_at(raw, new_id, "tenants/t-05000-0123456789.yaml") is None
    assert blob_id_at(raw, new_id, "tenants") is None  # a directory is not a file


def test_an_entry_is_found_even_when_ids_hold_nul_bytes_and_digits() -> None:
    tree = Tree()
    sha = (b"\x00" + b"100644 x\x00" + b"\x00" * 10).hex().encode()  # an id that looks like an entry inside
    for name in TRICKY:
        tree.add(name.encode(), stat.S_IFREG | 0o644, ObjectID(sha))
    raw = tree.as_raw_string()
    for name in TRICKY:
        _pos, entry = find_entry(raw, name.encode())
        assert entry is not None and entry[1] == name.encode()
    assert find_entry(raw, b"a1")[1] is None
