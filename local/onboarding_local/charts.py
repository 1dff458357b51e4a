"""Tenant charts, published for real: `helm package` and `helm push` to the local release registry.

The HelmReleases the pipeline commits name one exact chart version; the local stack publishes every
chart under a directory (``charts/`` by default, or ``--charts DIR``), each at its own version, so a
chart author can try a new version against the pipeline before publishing it for real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class PublishedChart:
    name: str
    version: str
    reference: str  # oci://HOST/charts/NAME:VERSION


def helm_binary() -> str:
    """The helm `make` installs into the virtualenv, else one on PATH."""
    candidate = Path(sys.prefix) / "bin" / "helm"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("helm")
    if found is None:
        raise RuntimeError("helm is not installed: `make demo` or `make test` installs it into .venv/bin")
    return found


# helm is a Go program that runs for about 60 ms to render a tenant chart. With the collector off until the heap
# nears GOMEMLIMIT, a render of the tenant chart takes about a quarter less CPU and peaks at 54 MB instead of 49
# (docs/benchmarks.md). Only helm: a large `kubectl kustomize` build saves no CPU this way and grows to the
# ceiling. A GOGC or GOMEMLIMIT already in the environment wins: either one, and neither default is added.
HELM_GO_DEFAULTS = {"GOGC": "off", "GOMEMLIMIT": "512MiB"}


def helm_env(home: Path) -> dict[str, str]:
    """helm's environment: this process's, with HELM_GO_DEFAULTS (unless it sets either) and helm's homes."""
    homes = {f"HELM_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "CACHE", "DATA")}
    defaults = {} if HELM_GO_DEFAULTS.keys() & os.environ.keys() else HELM_GO_DEFAULTS
    return {**defaults, **os.environ, **homes}


def helm(workdir: Path, *args: str) -> str:
    env = helm_env(workdir / "helm")
    result = subprocess.run([helm_binary(), *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def chart_dirs(root: Path) -> list[Path]:
    """Every directory under ``root`` that holds a Chart.yaml (``root`` itself included)."""
    return sorted(p.parent for p in root.rglob("Chart.yaml"))


def publish_charts(root: Path, registry_host: str, workdir: Path) -> list[PublishedChart]:
    """Package and push each chart under ``root`` to ``oci://<registry_host>/charts``."""
    out = workdir / "charts"
    out.mkdir(parents=True, exist_ok=True)
    published = []
    for directory in chart_dirs(root):
        meta = yaml.safe_load((directory / "Chart.yaml").read_text(encoding="utf-8"))
        name, version = str(meta["name"]), str(meta["version"])
        helm(workdir, "package", str(directory), "--destination", str(out))
        helm(workdir, "push", str(out / f"{name}-{version}.tgz"), f"oci://{registry_host}/charts", "--plain-http")
        published.append(PublishedChart(name, version, f"oci://{registry_host}/charts/{name}:{version}"))
    if not published:
        raise RuntimeError(f"no chart (a directory with a Chart.yaml) under {root}")
    return published


def newest(published: list[PublishedChart], name: str = "tenant") -> PublishedChart:
    """The highest published version of a chart (semantic order on the numeric core)."""
    candidates = [c for c in published if c.name == name]
    if not candidates:
        raise RuntimeError(f"no chart named {name!r} was published")

    def key(chart: PublishedChart) -> tuple[int, ...]:
        core = chart.version.split("-", 1)[0].split("+", 1)[0]
        return tuple(int(part) for part in core.split(".") if part.isdigit())

    return max(candidates, key=key)
