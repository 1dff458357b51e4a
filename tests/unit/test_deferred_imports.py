"""A deferred package (onboarding_local.deferred) imports its submodules without running its ``__init__``, runs
it once when one of its names is first read, and hands out stand-ins for the names other modules bind at import."""

from __future__ import annotations

import copy
import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onboarding_local import deferred

INIT = """\
import threading
RUNS = globals().setdefault("RUNS", [])
RUNS.append(threading.current_thread().name)
from .heavy import BACKENDS as backends
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package ``deferme`` with a costly ``__init__`` (it imports ``heavy``) and a light submodule."""
    root = tmp_path / "deferme"
    root.mkdir()
    (root / "__init__.py").write_text(INIT)
    (root / "heavy.py").write_text('BACKENDS = {"111122223333": {"eu-west-1": "the backend"}}\n')
    (root / "light.py").write_text("STATUS = 'ok'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "deferme"
    for name in [m for m in sys.modules if m == "deferme" or m.startswith("deferme.")]:
        del sys.modules[name]


def test_a_submodule_imports_without_the_package_init_which_runs_on_the_first_read(package: str) -> None:
    # Given a deferred package
    assert deferred.defer(package) is not None
    # When a submodule is imported, then the package's __init__ has not run
    assert importlib.import_module("deferme.light").STATUS == "ok"
    assert "deferme.heavy" not in sys.modules
    # When a name of the package is read, its __init__ runs once, and the package is as a plain import leaves it
    module = sys.modules[package]
    assert module.backends == {"111122223333": {"eu-west-1": "the backend"}}
    assert [threading.current_thread().name] == module.RUNS
    assert module.light.STATUS == "ok" and "deferme.heavy" in sys.modules
    with pytest.raises(AttributeError):
        module.missing  # noqa: B018 - a name the package does not have is still an AttributeError


def test_a_name_bound_at_import_is_a_stand_in_until_used_then_the_real_object(package: str) -> None:
    # Given a deferred package whose ``backends`` another module binds by name when it is imported
    assert deferred.defer(package, ("backends",)) is not None
    namespace: dict[str, object] = {}
    exec("from deferme import backends", namespace)  # what `from moto.ec2 import ec2_backends` does
    stand_in: Any = namespace["backends"]
    assert "deferme.heavy" not in sys.modules  # binding the name imports nothing
    # When it is used, the package is imported and every use answers as the real object
    assert stand_in["111122223333"]["eu-west-1"] == "the backend"
    assert "111122223333" in stand_in and list(stand_in) == ["111122223333"] and len(stand_in) == 1
    assert stand_in.get("nobody") is None
    assert copy.copy(stand_in)["111122223333"] == {"eu-west-1": "the backend"}  # a copy is still a pass-through
    # And a read after the import gets the real object itself
    assert sys.modules[package].backends is sys.modules["deferme.heavy"].BACKENDS


def test_concurrent_first_reads_run_the_init_once_and_all_see_the_loaded_package(package: str) -> None:
    assert deferred.defer(package) is not None
    module, seen = sys.modules[package], list[object]()
    barrier = threading.Barrier(8)

    def read() -> None:
        barrier.wait()
        seen.append(module.backends)

    threads = [threading.Thread(target=read, name=f"reader-{i}") for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(module.RUNS) == 1
    assert len(seen) == 8 and all(value is seen[0] for value in seen)


def test_a_package_already_imported_is_left_as_it_is(package: str) -> None:
    plain = importlib.import_module(package)
    assert deferred.defer(package) is None
    assert sys.modules[package] is plain
