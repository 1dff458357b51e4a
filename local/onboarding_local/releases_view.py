"""Fleet releases on the local stack: read from its ReleasesTable, printed, and the demo's second chart version.

A release is shown as one JSON document: the release item (``releaseId``, ``status``, ``chartVersion``,
``previousChartVersion``, ``execution``, ``request``, ``createdAt``) with its ``waves``, each the wave's plan
(``index``, ``name``, ``tenants``, ``bakeSeconds``, ``approval``) merged with what the wave did once it ran
(``members``, ``deferred``, ``commit``, ``committedAt``, ``succeeded``, ``failed``, ``rolledBack``).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from boto3.dynamodb.types import TypeDeserializer

from onboarding.contract.release import (
    FleetReleaseAwaitingApproval,
    FleetReleaseCompleted,
    FleetReleaseHalted,
    FleetReleaseRejected,
    FleetReleaseStarted,
    FleetReleaseWaveCompleted,
)
from onboarding_local.charts import publish_charts
from onboarding_local.observe import plain
from onboarding_local.provision import REPO_ROOT

if TYPE_CHECKING:
    from onboarding_local.stack import LocalStack

Print = Callable[[str], None]
DEMO_CHART = REPO_ROOT / "charts" / "tenant"  # the chart the demo publishes again, bumped
RELEASES_TABLE = "ReleasesTable"  # the table's physical name on the local stack
_WAVE = re.compile(r"^wave#(\d{3})$")
_PART = re.compile(r"^wave#(\d{3})#part#\d{4}$")
PER_TENANT = ("members", "failed", "copyFailed")  # lists a wave keeps in its chunks (previous and copies: maps)
DEFERRED_WAVE = "(deferred)"  # onboarding.fleet's last wave, for the tenants deferred by the others


# ------------------------------------------------------------------ reading
def read_releases(ddb: Any, table: str = RELEASES_TABLE) -> list[dict[str, Any]]:
    """Every release of the local stack's table, oldest first (a scan: the local table is small)."""
    de = TypeDeserializer()
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items += [{k: plain(de.deserialize(v)) for k, v in item.items()} for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    by_release: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_release.setdefault(str(item["releaseId"]), []).append(item)
    releases = [assemble(group) for group in by_release.values()]
    found = [r for r in releases if r is not None]
    return sorted(found, key=lambda r: (str(r.get("createdAt", "")), r["releaseId"]))


def assemble(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One release from its items; None for items that are not a release (the one-at-a-time lock)."""
    head = next((i for i in items if i["key"] == "release"), None)
    if head is None:
        return None
    release = {k: v for k, v in head.items() if k != "key"}
    headers: dict[int, dict[str, Any]] = {}
    parts: dict[int, dict[str, list[Any]]] = {}
    for item in sorted(items, key=lambda i: str(i["key"])):
        if m := _WAVE.match(item["key"]):
            headers[int(m[1])] = {k: v for k, v in item.items() if k not in ("releaseId", "key", "chunks", "previous")}
        elif m := _PART.match(item["key"]):  # what the wave keeps per tenant, chunked
            merged = parts.setdefault(int(m[1]), {k: [] for k in PER_TENANT})
            for key in PER_TENANT:
                merged[key].extend(item.get(key) or [])
    waves = []
    for plan in release.get("waves") or []:
        index = int(plan["index"])
        wave = {**plan, **headers.get(index, {})}
        if index in headers:  # planned: PlanRelease recorded its members
            wave.update(parts.get(index, {k: [] for k in PER_TENANT}))
        if plan["name"] == DEFERRED_WAVE and not wave.get("members") and not wave.get("deferred"):
            continue  # the last wave, for deferred tenants, had none
        waves.append(wave)
    release["waves"] = waves
    return release


# ------------------------------------------------------------------ printing
def _count(wave: dict[str, Any], key: str) -> int:
    return len(wave.get(key) or [])


def releases_table(releases: list[dict[str, Any]], out: Print = print) -> None:
    out(f"{'RELEASE':<28} {'STATUS':<10} {'CHART':<9} {'FROM':<9} {'OK':>4} {'FAILED':>6}  WAVES (tenants)")
    for r in releases:
        waves = r.get("waves") or []
        succeeded = sum(_count(w, "succeeded") for w in waves)
        failed = sum(_count(w, "failed") for w in waves)
        plan = ", ".join(f"{w['name']} ({w.get('tenants', 0)})" for w in waves) or "-"
        out(
            f"{r['releaseId']:<28} {r.get('status', '-'):<10} {r.get('chartVersion', '-'):<9} "
            f"{r.get('previousChartVersion') or '-':<9} {succeeded:>4} {failed:>6}  {plan}"
        )


def release_timeline(release: dict[str, Any], out: Print = print) -> None:
    out(f"{release['releaseId']}  {release.get('status', '-')}")
    out(
        f"  chart {release.get('previousChartVersion') or '-'} -> {release.get('chartVersion', '-')}, "
        f"created {str(release.get('createdAt', '-'))[:23]}, execution {release.get('execution', '-')}"
    )
    out("  waves:" if release.get("waves") else "  waves: none (no live tenant)")
    for wave in release.get("waves") or []:
        extra = [f"bake {wave['bakeSeconds']}s"] if wave.get("bakeSeconds") else []
        extra += ["approval"] if wave.get("approval") else []
        note = f"  ({', '.join(extra)})" if extra else ""
        out(f"    {wave['index']} {wave['name']}: {wave.get('tenants', 0)} tenants{note}")
        if not any(wave.get(k) for k in ("commit", "succeeded", "failed", "deferred")):
            out("        not started")
            continue
        if wave.get("commit"):
            out(f"        commit      {str(wave['commit'])[:12]} at {str(wave.get('committedAt') or '-')[:23]}")
        else:
            out("        commit      -")
        out(f"        succeeded   {', '.join(wave.get('succeeded') or []) or '-'}")
        failed = wave.get("failed") or []
        out(f"        failed      {'-' if not failed else ''}")
        for f in failed:
            out(f"          {f['tenantId']}: {f['reason']}")
        out(f"        rolled back {', '.join(wave.get('rolledBack') or []) or '-'}")
        out(f"        deferred    {', '.join(wave.get('deferred') or []) or '-'}")


def describe_event(detail_type: str, detail: dict[str, Any]) -> str:
    """A release outcome event in one line (the run's event list)."""
    if detail_type == FleetReleaseStarted.DETAIL_TYPE:
        waves = ", ".join(f"{w['name']} ({w['tenants']})" for w in detail.get("waves") or [])
        return f"chart {detail.get('chartVersion')}, waves {waves}"
    if detail_type == FleetReleaseWaveCompleted.DETAIL_TYPE:
        return f"wave {detail.get('wave')}: {detail.get('succeeded')} succeeded, {detail.get('failed')} failed"
    if detail_type == FleetReleaseAwaitingApproval.DETAIL_TYPE:
        return f"after wave {detail.get('wave')}"
    if detail_type == FleetReleaseCompleted.DETAIL_TYPE:
        return f"chart {detail.get('chartVersion')} on {detail.get('tenants')} tenants"
    if detail_type == FleetReleaseHalted.DETAIL_TYPE:
        failed = ", ".join(f"{f['tenantId']} ({f['reason']})" for f in detail.get("failed") or [])
        return f"wave {detail.get('wave')}: failed {failed or '-'}; rolled back {len(detail.get('rolledBack') or [])}"
    if detail_type == FleetReleaseRejected.DETAIL_TYPE:
        return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in detail.get("errors") or [])
    return ""


# ------------------------------------------------------------------ the demo's second chart version
def next_version(version: str) -> str:
    """The demo's bump rule: the next minor version (1.0.0 -> 1.1.0, 1.4.2 -> 1.5.0, 2.0.0-rc.1 -> 2.1.0)."""
    core = version.split("+", 1)[0].split("-", 1)[0]
    major, minor, _patch = (int(part) for part in core.split("."))
    return f"{major}.{minor + 1}.0"


def chart_version(chart: Path) -> str:
    return str(yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))["version"])


def bumped_chart(source: Path, into: Path) -> tuple[Path, str]:
    """A copy of the chart at ``source`` in ``into/<its name>`` at ``next_version``: (``into``, the version)."""
    target = into / source.name
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(source, target)
    version = next_version(chart_version(source))
    meta_path = target / "Chart.yaml"
    # only the version line changes: the rest of Chart.yaml (comments, order) is the author's
    text = re.sub(r"(?m)^version:.*$", f"version: {version}", meta_path.read_text(encoding="utf-8"), count=1)
    meta_path.write_text(text, encoding="utf-8")
    return into, version


def publish_demo_release(files: list[Path], release_file: str, say: Print) -> Callable[[int, LocalStack], None]:
    """The demo's ``before_each``: before ``release_file``, publish charts/tenant at its next version, which the
    release file must name (a clear error otherwise, not a rejected release)."""

    def before(index: int, stack: LocalStack) -> None:
        if files[index].name != release_file:
            return
        charts, version = bumped_chart(DEMO_CHART, stack.workdir / "demo-charts")
        requested = json.loads(files[index].read_text(encoding="utf-8"))["detail"]["chartVersion"]
        if requested != version:
            raise SystemExit(
                f"onboarding-local: {files[index]} asks for chart {requested}, but the demo publishes "
                f"charts/tenant's next version {version}: update the event's chartVersion"
            )
        for chart in publish_charts(charts, stack.release_registry.host, stack.workdir):
            say(f"published chart {chart.name} {chart.version} to {chart.reference}")

    return before
