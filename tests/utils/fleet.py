"""Fleet releases on a local stack that a test module shares (tests/pipeline/test_release*.py).

A release targets every live tenant (ACTIVE or SUSPENDED) and moves the release parameter that new tenants start
on, so on a shared stack a test would release earlier tests' tenants too, and start its own on an earlier test's
chart. Each test therefore releases a chart version no test released before (``NewChart``), and ``releasing``
offboards its live tenants when it ends: the next test's fleet holds exactly the tenants it onboards, as on a
stack of its own. Release ids are the test's own too (a known id is a duplicate delivery and starts nothing).
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from onboarding_local.charts import publish_charts
from tests.utils.operations import request
from tests.utils.paths import tenant_file
from tests.utils.scoped_stack import ScopedStack

CHART = Path(__file__).resolve().parents[2] / "charts" / "tenant"
_minor = itertools.count(1)  # 1.1.0, 1.2.0, ...: charts/tenant is 1.0.0


@dataclass(frozen=True)
class NewChart:
    """A version of charts/tenant that no test released before, packaged under ``directory``; unpublished until
    ``publish``."""

    version: str
    directory: Path
    stack: Any

    @classmethod
    def make(cls, stack: Any, tmp: Path) -> NewChart:
        version = f"1.{next(_minor)}.0"
        charts = tmp / "charts" / "tenant"
        shutil.copytree(CHART, charts)
        meta = yaml.safe_load((charts / "Chart.yaml").read_text(encoding="utf-8"))
        (charts / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": version}), encoding="utf-8")
        return cls(version, charts.parent, stack)

    def publish(self) -> None:
        """Push it to the stack's release registry, as the provider's CI does."""
        publish_charts(self.directory, self.stack.release_registry.host, self.stack.workdir)

    def release(self, release_id: str, **detail: Any) -> dict[str, Any]:
        """A ``Fleet Release Requested`` of this version."""
        return {"source": "saas.release", "detail-type": "Fleet Release Requested",
                "detail": {"releaseId": release_id, "chartVersion": self.version, **detail}}  # fmt: skip


@contextmanager
def releasing(view: ScopedStack) -> Iterator[ScopedStack]:
    """The test's view of the module's stack; afterwards Flux and CodeBuild are as the test found them and the
    test's live tenants are offboarded (through the pipeline), so no later release finds them."""
    try:
        yield view
    finally:
        view.flux.paused = False
        view.codebuild.fail_next = 0
        abort_running_releases(view)  # a test that failed may have left one waiting for an approval
        view.wait_idle(120)
        live = [t["tenantId"] for t in view.tenants() if t["status"] in ("ACTIVE", "SUSPENDED")]
        if live:
            view.put_events([request("offboard", tenant_id) for tenant_id in live])
            view.wait_idle(120)
            left = {t: (view.tenant(t) or {}).get("status") for t in live}
            assert all(s == "OFFBOARDED" for s in left.values()), f"not offboarded after the test: {left}"


def abort_running_releases(view: ScopedStack, timeout: float = 120) -> None:
    """End the test's release executions still running. Each round puts ``Fleet Release Aborted`` for each (once)
    and, when its record says aborted, an approval of each of its waves, so one waiting for an approval goes on,
    sees the abort and stops. Approvals are sent again each round (an extra one is "not waiting"): an approval can
    arrive before its wait has stored its token. Rounds go on until no delivery is pending (a release request
    still on its way starts later) and none of the test's releases runs."""
    from onboarding.adapters.dynamodb.releases import DynamoReleaseStore
    from onboarding.fleet import default_waves

    sfn = view.client("stepfunctions")
    store = DynamoReleaseStore(view.template.ref("ReleasesTable"), client=view.client("dynamodb"))
    aborted: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = view.router.pending
        described = [sfn.describe_execution(executionArn=a) for a in view.execution_arns("ReleaseStateMachine")]
        inputs = [json.loads(e["input"]) for e in described if e["status"] == "RUNNING"]
        if not inputs and pending == 0:
            return
        events = [
            {"source": "saas.release", "detail-type": "Fleet Release Aborted", "detail": {"releaseId": i["releaseId"]}}
            for i in inputs
            if i["releaseId"] not in aborted
        ]
        aborted |= {i["releaseId"] for i in inputs}
        for i in inputs:
            if (record := store.get(i["releaseId"])) is None or not record.aborted:
                continue
            waves = [w["name"] for w in i["request"].get("waves") or []] or [w.name for w in default_waves()]
            events += [
                {
                    "source": "saas.release",
                    "detail-type": "Fleet Release Approved",
                    "detail": {"releaseId": i["releaseId"], "wave": w},
                }
                for w in waves
            ]
        if events:
            view.put_events(events)
        time.sleep(0.5)


def events_of(stack: Any, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.status_events() if e["detail-type"] == detail_type]


def run(stack: Any, *events: dict[str, Any], timeout: float = 180) -> None:
    stack.put_events(list(events))
    stack.wait_idle(timeout)


def helm_release(stack: Any, tenant_id: str) -> dict[str, Any]:
    text = stack.git.read(tenant_file(tenant_id)) or stack.git.read(f"remote/{tenant_id}/release.yaml")
    (hr,) = [d for d in yaml.safe_load_all(text) if d["kind"] == "HelmRelease"]
    return dict(hr)


def chart_in_git(stack: Any, tenant_id: str) -> str:
    return str(helm_release(stack, tenant_id)["spec"]["chart"]["spec"]["version"])
