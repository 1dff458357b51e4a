"""The installed distribution (``pip install .``, as docs/production-path.md installs it) holds every package
of the source tree: setuptools installs only the packages pyproject.toml names, while the editable install the
tests run on maps whole folders, so a package missing from the list would pass every other test."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_names_every_package_of_the_source_tree() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for top, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((top, *parts)))
    assert sorted(setuptools["packages"]) == sorted(found)
