"""moto packages the local stack never calls, imported only when something first uses them.

moto's Step Functions engine imports ``moto.batch.utils`` (the Batch task integration's job statuses), and moto's
SSM models import ``ec2_backends`` from ``moto.ec2`` (for Run Command targets). Importing either runs
``moto/batch/__init__.py`` or ``moto/ec2/__init__.py``, which load moto's Batch and EC2 models: every instance type
and its offerings in every region, read from JSON. That is about 0.7 s of CPU in every process that starts a
stack (each ``onboarding-local run``, each test worker), for services the stack never calls.

A deferred package is put in ``sys.modules`` without running its ``__init__``. Its submodules import as usual
(its ``__path__`` is set), and the first read of any other of its names runs the real ``__init__`` first, under
a lock, so that a reader sees the package as a plain import leaves it. The names that moto's modules bind when
they are imported (``from moto.ec2 import ec2_backends``) are bound to a stand-in that imports the package on its
first use and then hands every operation to the real object. Nothing here changes what a package does once it
is used, so it is not undone when a stack stops; a package some code already imported is left as it is.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

DEFERRED: dict[str, tuple[str, ...]] = {
    # package: the names moto's modules import from it by name, given out as stand-ins until the package loads
    "moto.batch": (),
    "moto.ec2": ("ec2_backends",),
}


# the code that reads a name when ``from package import name`` runs in a module's body: the import system's check
# that the name is there (``_handle_fromlist``), then the module body's own read of it
_BINDING = frozenset({"<module>", "_handle_fromlist"})


class _Deferred:
    """Stands for ``package.name`` until its first use, which imports the package; then it is a pass-through."""

    def __init__(self, package: DeferredPackage, name: str) -> None:
        self._package, self._name = package, name

    def _target(self) -> Any:
        return getattr(self._package.load(), self._name)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # copy, pickle and the like look for dunders on a bare instance: not the target's
            raise AttributeError(attr)
        return getattr(self._target(), attr)

    def __getitem__(self, key: Any) -> Any:
        return self._target()[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._target()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())

    def __repr__(self) -> str:
        return f"<deferred {self._package.module.__name__}.{self._name}>"


class DeferredPackage:
    """A package in ``sys.modules`` whose ``__init__`` runs when one of its names is first read."""

    def __init__(self, spec: importlib.machinery.ModuleSpec, stand_ins: tuple[str, ...]) -> None:
        self._spec, self._state = spec, "deferred"
        self.module = importlib.util.module_from_spec(spec)
        self._stand_ins = {name: _Deferred(self, name) for name in stand_ins}
        self.module.__getattr__ = self._read  # type: ignore[method-assign]

    def load(self) -> ModuleType:
        """The package, its ``__init__`` run once, under the import system's own lock for the module: another
        thread importing the package or reading its names waits for it, and the import system's deadlock check
        sees this load as it sees any import."""
        if self._state == "loaded":  # a kept stand-in's every use: no lock once loaded
            return self.module
        with _module_lock(self._spec.name):
            if self._state == "deferred":
                self._state = "loading"
                self._spec._initializing = True  # type: ignore[attr-defined]  # as the import system marks it
                try:
                    assert self._spec.loader is not None
                    self._spec.loader.exec_module(self.module)
                except BaseException:
                    self._state = "deferred"  # the next read tries again, as a failed import would
                    raise
                finally:
                    self._spec._initializing = False  # type: ignore[attr-defined]
                if vars(self.module).get("__getattr__") == self._read:  # not a module __getattr__ of its own
                    del self.module.__getattr__
                self._state = "loaded"
        return self.module

    def _read(self, name: str) -> Any:
        if name in self._stand_ins and self._state != "loaded" and sys._getframe(1).f_code.co_name in _BINDING:
            # a module body binding the name as it is imported (``from moto.ec2 import ec2_backends``); a
            # function reading it (moto's service lookup, ``getattr(package, "ec2_backends")``) gets the real one.
            # The nearest Python frame decides: a C-level read from a module body (``getattr(...)`` there, or code
            # run by ``exec``) gets the stand-in too. moto 5.2.5's module bodies that bind ``ec2_backends`` only
            # index it, which the stand-in passes through.
            return self._stand_ins[name]
        with _module_lock(self._spec.name):
            if self._state == "loading":  # read by its own __init__: not there yet, as in a plain import
                raise AttributeError(f"partially initialized module {self.module.__name__!r} has no {name!r}")
            return getattr(self.load(), name)


def _module_lock(name: str) -> Any:
    """The import system's per-module lock (re-entrant in one thread), which every import of ``name`` takes."""
    return importlib._bootstrap._ModuleLockManager(name)  # type: ignore[attr-defined]


def defer(name: str, stand_ins: tuple[str, ...] = ()) -> DeferredPackage | None:
    """Put package ``name`` in ``sys.modules`` deferred (None if it is already imported or does not exist)."""
    if name in sys.modules:
        return None
    parent_name, _, child = name.rpartition(".")
    spec = importlib.util.find_spec(name)  # imports the parent package, as an import of ``name`` would
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return None
    package = DeferredPackage(spec, stand_ins)
    sys.modules[name] = package.module
    if parent_name:
        setattr(sys.modules[parent_name], child, package.module)
    return package


def defer_moto_packages() -> None:
    """Defer the moto packages in DEFERRED (before moto's Step Functions engine and SSM models are imported)."""
    for name, stand_ins in DEFERRED.items():
        defer(name, stand_ins)
