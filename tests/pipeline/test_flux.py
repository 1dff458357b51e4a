"""Flux's verdict on the embedded local stack: the real pipeline, the real receiver behind its function URL, and the
Flux emulator (real kubectl kustomize, helm pull and helm template) reporting what it rendered.

Signatures and bodies are built here with ``hmac`` and ``json`` directly, independently of the code under test.
The tests share one local stack (tests/utils/scoped_stack.py); those that need a stack of their own (another
reconcile timeout, another chart) are in test_flux_runs.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import requests

from onboarding.identity import derive_tenant_id
from tests.conftest import REPO, signup_event
from tests.utils.paths import has_no_cluster_file, tenant_file
from tests.utils.scoped_stack import ScopedStack

RECEIVER_BUILT = (REPO / "functions/flux_receiver/app.py").exists() and "FluxReceiverFunction" in (
    REPO / "template.yaml"
).read_text(encoding="utf-8")
pytestmark = [
    pytest.mark.pipeline,
    pytest.mark.xdist_group("flux"),
    pytest.mark.skipif(not RECEIVER_BUILT, reason="receiver not built yet"),
]


@pytest.fixture
def stack(scoped_stack: ScopedStack) -> ScopedStack:
    return scoped_stack


def wait_until(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def state_names(stack: Any, tenant_id: str) -> list[str]:
    execution = next((e for e in stack.executions() if e["name"] == tenant_id), None)
    return [s["name"] for s in execution["states"]] if execution else []


def waiting_for_flux(stack: Any, signup_id: str) -> str:
    """Onboard a pooled tenant with Flux paused, until its execution waits at AwaitReconcile; its tenantId."""
    tenant_id = derive_tenant_id(signup_id)
    stack.flux.paused = True
    stack.put_events([signup_event(signup_id, f"Tenant {signup_id}")])
    wait_until(lambda: stack.git.read(tenant_file(tenant_id)), what="the tenant's commit")
    wait_until(lambda: "AwaitReconcile" in state_names(stack, tenant_id), what="the wait")
    time.sleep(0.5)  # the AwaitReconcile handler has recorded the wait
    return tenant_id


def event(tenant_id: str, reason: str = "InstallSucceeded", version: str = "1.0.0") -> bytes:
    """What notification-controller posts about the tenant's HelmRelease."""
    body = {
        "involvedObject": {
            "kind": "HelmRelease", "namespace": "pool", "name": tenant_id, "uid": "4f5e2f9a-0000-4000-8000-0000000a",
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "resourceVersion": "1",
        },
        "severity": "info" if reason.endswith("Succeeded") else "error",
        "timestamp": "2026-11-27T12:00:00Z",
        "message": f"Helm install succeeded for release pool/{tenant_id}.v1 with chart tenant@{version}",
        "reason": reason,
        "metadata": {"revision": version, "tenantId": tenant_id},
        "reportingController": "helm-controller",
        "reportingInstance": "helm-controller-0",
    }  # fmt: skip
    return json.dumps(body).encode()


def post(stack: Any, body: bytes, token: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Signature"] = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(stack.receiver_url, data=body, headers=headers, timeout=30)


def test_the_tenant_is_active_only_after_flux_reports_its_release_ready(stack: ScopedStack) -> None:
    tenant_id = waiting_for_flux(stack, "flux-after-verdict")
    assert stack.tenant(tenant_id)["status"] == "ONBOARDING"  # committed, not yet verified
    assert not [e for e in stack.status_events() if e["detail-type"] == "Tenant Onboarded"]

    stack.flux.paused = False
    stack.wait_idle(120)

    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["chartVersion"] == stack.chart_version and record["reconciledAt"]
    (verdict,) = [d for d in stack.flux.sent if d.payload["involvedObject"]["name"] == tenant_id]
    assert verdict.payload["reason"] == "InstallSucceeded" and 200 <= verdict.status < 300
    assert verdict.payload["metadata"] == {
        "cluster": "production",
        "tenantId": tenant_id,
        "revision": stack.chart_version,
    }
    (onboarded,) = [e["detail"] for e in stack.status_events() if e["detail-type"] == "Tenant Onboarded"]
    assert onboarded["chartVersion"] == stack.chart_version
    assert datetime.fromisoformat(onboarded["reconciledAt"]) == datetime.fromisoformat(record["reconciledAt"])
    assert state_names(stack, tenant_id)[-3:] == ["AwaitReconcile", "ActivateTenant", "Onboarded"]

    # the same event again (notification-controller retrying, or a replay): accepted, changes nothing
    assert post(stack, json.dumps(verdict.payload).encode(), stack.flux_token).status_code == 202
    stack.wait_idle(60)
    assert stack.tenant(tenant_id)["updatedAt"] == record["updatedAt"]


def test_a_failed_install_fails_the_tenant_at_the_wait_with_fluxs_message_and_compensates(stack: ScopedStack) -> None:
    tenant_id = derive_tenant_id("flux-failed-install")
    stack.flux.fail_next(tenant_id, "InstallFailed", "Helm install failed for release pool/x: quota exceeded")
    stack.put_events([signup_event("flux-failed-install", "Flux Failed Install")])
    stack.wait_idle(120)

    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "AwaitReconcile"
    assert "InstallFailed" in record["failureReason"] and "quota exceeded" in record["failureReason"]
    assert has_no_cluster_file(stack.git, tenant_id)  # compensation reverted its commit
    (failed,) = [e["detail"] for e in stack.status_events() if e["detail-type"] == "Tenant Onboarding Failed"]
    assert failed["failedStep"] == "AwaitReconcile" and "quota exceeded" in failed["cause"]


def test_forged_and_malformed_events_change_nothing(stack: ScopedStack) -> None:
    tenant_id = waiting_for_flux(stack, "flux-forged")
    body = event(tenant_id)

    assert post(stack, body, None).status_code in (401, 403)  # no signature
    assert post(stack, body, "not-the-token").status_code in (401, 403)  # a wrong one
    other = hmac.new(stack.flux_token.encode(), b"flux-receiver/t-other-0123456789", hashlib.sha256).hexdigest()
    assert post(stack, body, other).status_code in (401, 403)  # another (remote) tenant's token
    assert post(stack, b'{"involvedObject": ', stack.flux_token).status_code == 400  # signed, but not an event
    assert post(stack, b'{"reason": "InstallSucceeded"}', stack.flux_token).status_code == 400
    time.sleep(1)
    assert stack.tenant(tenant_id)["status"] == "ONBOARDING"  # nothing forged was taken for a verdict

    stack.flux.paused = False
    stack.wait_idle(120)
    assert stack.tenant(tenant_id)["status"] == "ACTIVE"
