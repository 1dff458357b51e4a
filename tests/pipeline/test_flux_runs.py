"""Flux's verdict where a test needs a local stack of its own: another reconcile timeout (a silent Flux), and
`onboarding-local run` with another chart (a broken one). The other Flux tests share one stack in test_flux.py."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from tests.conftest import REPO, signup_event
from tests.utils.paths import has_no_cluster_file

RECEIVER_BUILT = (REPO / "functions/flux_receiver/app.py").exists() and "FluxReceiverFunction" in (
    REPO / "template.yaml"
).read_text(encoding="utf-8")
pytestmark = [
    pytest.mark.pipeline,
    pytest.mark.skipif(not RECEIVER_BUILT, reason="receiver not built yet"),
]


@pytest.fixture
def quick_timeout_stack(tmp_path: Path) -> Iterator[Any]:
    from onboarding_local.stack import LocalStack

    with LocalStack(tmp_path / "stack", parameters={"ReconcileTimeoutSeconds": "10"}) as running:
        yield running


def test_a_silent_flux_times_the_wait_out(quick_timeout_stack: Any) -> None:
    stack = quick_timeout_stack
    tenant_id = derive_tenant_id("flux-silent")
    stack.flux.paused = True
    stack.put_events([signup_event("flux-silent", "Flux Silent")])
    stack.wait_idle(120)  # a paused Flux is idle: this waits for the execution, which the timeout ends

    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "AwaitReconcile"
    assert "Flux did not report" in record["failureReason"] and "10 s" in record["failureReason"]
    assert has_no_cluster_file(stack.git, tenant_id)


def test_run_with_a_broken_chart_fails_the_tenant_with_helms_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from onboarding_local.cli import main

    charts = tmp_path / "charts"
    shutil.copytree(REPO / "charts" / "tenant", charts / "tenant")
    (charts / "tenant" / "templates" / "broken.yaml").write_text('{{ fail "broken on purpose" }}\n', encoding="utf-8")
    signup = tmp_path / "signup.json"
    signup.write_text(json.dumps(signup_event("flux-broken-chart", "Broken Chart")), encoding="utf-8")

    assert main(["run", str(signup), "--workdir", str(tmp_path / "wd"), "--charts", str(charts), "--json"]) == 0

    (tenant,) = json.loads(capsys.readouterr().out)["tenants"]
    assert tenant["status"] == "FAILED" and tenant["failedStep"] == "AwaitReconcile"
    assert "InstallFailed" in tenant["failureReason"] and "broken on purpose" in tenant["failureReason"]
