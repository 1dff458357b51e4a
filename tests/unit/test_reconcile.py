"""Flux's verdict: the receiver's signature checks, recording, and the wait that never misses a verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onboarding.payloads import StepInput
from onboarding.reconcile import FluxEvent, Outcome, signature, signed_by, tenant_token
from onboarding.steps.await_reconcile import AwaitInput, await_reconcile
from onboarding.steps.flux_receiver import receive_flux_event
from onboarding.steps.register_tenant import register_tenant
from tests.utils.fakes import Callbacks, InMemoryReconcileStore, InMemoryTenantStore, RecordingPublisher

MASTER = "master-abc"
T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


def tenant(store: InMemoryTenantStore, signup_id: str, model: str = "pooled", **extra: Any) -> str:
    signup = {"signupId": signup_id, "tenantName": signup_id, "adminEmail": "a@b.example", "tier": "basic",
              "deploymentModel": model, **extra}  # fmt: skip
    from onboarding.identity import derive_tenant_id

    tenant_id = derive_tenant_id(signup_id)
    step = StepInput.model_validate({"tenantId": tenant_id, "attempt": 1, "execution": tenant_id, "signup": signup})
    register_tenant(step, tenants=store, publisher=RecordingPublisher(), now=lambda: T0)
    return tenant_id


def event(tenant_id: str | None, reason: str = "InstallSucceeded", revision: str = "1.0.0", **extra: Any) -> bytes:
    metadata = {"revision": revision, **({"tenantId": tenant_id} if tenant_id else {})}
    body = {
        "involvedObject": {"kind": "HelmRelease", "namespace": "pool", "name": tenant_id or "x", "uid": "u",
                           "apiVersion": "helm.toolkit.fluxcd.io/v2", "resourceVersion": "1"},
        "severity": "error" if reason.endswith("Failed") else "info",
        "timestamp": extra.pop("timestamp", "2026-11-27T10:00:05Z"),
        "message": extra.pop("message", f"Helm {reason}"),
        "reason": reason,
        "metadata": metadata,
        "reportingController": "helm-controller",
        "reportingInstance": "helm-controller-1",
        **extra,
    }  # fmt: skip
    return json.dumps(body).encode()


class Setup:
    def __init__(self) -> None:
        self.tenants, self.store, self.callbacks, self.clock = (
            InMemoryTenantStore(), InMemoryReconcileStore(), Callbacks(), Clock()
        )  # fmt: skip

    def post(self, body: bytes, sig: str | None) -> Any:
        return receive_flux_event(
            body, sig, master_token=MASTER, tenants=self.tenants, store=self.store, callbacks=self.callbacks,
            now=self.clock,
        )  # fmt: skip

    def wait(self, tenant_id: str, *, changed: bool = True, since: datetime = T0, feedback: str = "flux",
             operation: str = "onboard", token: str = "tok") -> str:  # fmt: skip
        step = AwaitInput(tenant_id=tenant_id, execution="e", task_token=token, operation=operation,
                          chart_version="1.0.0", changed=changed, since=since)  # fmt: skip
        return await_reconcile(step, store=self.store, callbacks=self.callbacks, feedback=feedback)


# ------------------------------------------------------------------ HMAC, with vectors computed by openssl
def test_signatures_match_vectors_computed_independently() -> None:
    # printf '%s' '{"reason":"InstallSucceeded"}' | openssl dgst -sha256 -hmac 'fluxtoken-123'
    body = b'{"reason":"InstallSucceeded"}'
    expected = "sha256=c0886a1590537ad55cdd02bc594a3ead78d3449e5ab6480330e98ed2b9cce97d"
    assert signature("fluxtoken-123", body) == expected
    assert signed_by("fluxtoken-123", body, expected) and signed_by("fluxtoken-123", body, expected.upper())
    assert not signed_by("fluxtoken-124", body, expected) and not signed_by("fluxtoken-123", body + b" ", expected)
    assert not signed_by("fluxtoken-123", body, None) and not signed_by("fluxtoken-123", body, "")
    # printf '%s' 'flux-receiver/t-remote-0123456789' | openssl dgst -sha256 -hmac 'master-abc'
    assert tenant_token(MASTER, "t-remote-0123456789") == (
        "b6d8afabb8f52af71922cdcbb6017914b033d3137ef866e9b2f83e52c0e04367"
    )


# ------------------------------------------------------------------ the receiver
def test_a_missing_or_wrong_signature_is_401_and_changes_nothing() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-1")
    body = event(tenant_id)
    assert s.post(body, None).status == 401
    assert s.post(body, signature("not-the-token", body)).status == 401
    assert s.store.verdicts == [] and s.callbacks.calls == []


def test_a_malformed_body_is_400_when_signed_and_401_when_not() -> None:
    s = Setup()
    for body in (b"{not json", b'{"reason": "InstallSucceeded"}', b"[]"):
        assert s.post(body, signature(MASTER, body)).status == 400
        assert s.post(body, signature("forged", body)).status == 401
    assert s.store.verdicts == []


def test_an_event_for_an_unknown_tenant_is_accepted_and_changes_nothing() -> None:
    s = Setup()
    body = event("t-nobody-0123456789")
    answer = s.post(body, signature(MASTER, body))
    assert answer.status == 202 and answer.body["recorded"] == [] and s.store.verdicts == []


def test_a_remote_tenant_is_vouched_for_only_by_its_own_token() -> None:
    s = Setup()
    remote = tenant(s.tenants, "r-remote", "remote", awsAccountId="222222222222", region="eu-west-1")
    other = tenant(s.tenants, "r-remote-2", "remote", awsAccountId="333333333333", region="eu-west-1")
    pooled = tenant(s.tenants, "r-pooled")
    body = event(remote)
    assert s.post(body, signature(tenant_token(MASTER, other), body)).status == 401  # another customer's token
    assert s.post(body, signature(MASTER, body)).status == 401  # only the tenant's own cluster reports it
    assert s.post(body, signature(tenant_token(MASTER, remote), body)).status == 202
    forged = event(pooled)  # a customer cannot speak for a tenant of the provider's cluster either
    assert s.post(forged, signature(tenant_token(MASTER, remote), forged)).status == 401
    assert [v.tenant_id for v in s.store.verdicts] == [remote]


def test_a_verdict_resumes_the_waiting_execution_once() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-2")
    assert s.wait(tenant_id) == "waiting" and s.callbacks.calls == []
    body = event(tenant_id)
    assert s.post(body, signature(MASTER, body)).status == 202
    assert s.post(body, signature(MASTER, body)).status == 202  # a duplicate event resumes nothing more
    assert [c[0] for c in s.callbacks.calls] == ["succeed"] and s.store.waiters == {}


def test_a_failed_install_fails_the_wait_with_fluxs_own_message() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-3")
    s.wait(tenant_id)
    body = event(tenant_id, "InstallFailed", message="template: tenant/templates/x.yaml: boom")
    s.post(body, signature(MASTER, body))
    ((kind, token, error, cause),) = s.callbacks.calls
    assert (kind, token, error) == ("fail", "tok", "ReconcileFailed")
    assert cause == "Flux InstallFailed: template: tenant/templates/x.yaml: boom"


def test_a_ready_verdict_at_another_chart_version_does_not_settle_the_wait() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-4")
    s.wait(tenant_id)
    body = event(tenant_id, revision="0.9.0")
    s.post(body, signature(MASTER, body))
    assert s.callbacks.calls == [] and tenant_id in s.store.waiters


def test_a_verdict_that_arrives_before_the_wait_is_not_missed() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-5")
    body = event(tenant_id)
    s.post(body, signature(MASTER, body))  # Flux answered before the execution reached its wait
    assert s.wait(tenant_id) == "answered"
    assert [c[0] for c in s.callbacks.calls] == ["succeed"] and s.store.waiters == {}


def test_an_old_verdict_before_the_commit_does_not_count() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-6")
    body = event(tenant_id)
    s.post(body, signature(MASTER, body))
    assert s.wait(tenant_id, since=s.clock.at + timedelta(minutes=1)) == "waiting"


def test_a_late_copy_of_an_old_verdict_does_not_answer_a_wait_that_started_after_it() -> None:
    # Flux said InstallSucceeded at 10:00:05; the copy re-delivered (after 5xx answers) arrives at 10:00:20,
    # after a suspend at the same chart version committed at 10:00:10 and started waiting
    s = Setup()
    tenant_id = tenant(s.tenants, "r-late")
    assert s.wait(tenant_id, since=T0 + timedelta(seconds=10)) == "waiting"
    s.clock.at = T0 + timedelta(seconds=20)
    late = event(tenant_id)
    assert s.post(late, signature(MASTER, late)).status == 202
    assert s.callbacks.calls == [] and list(s.store.waiters) == [tenant_id]
    # Flux's own verdict on the suspend, stamped to the second (10:00:10, before the commit's 10:00:10.5)
    s.clock.at = T0 + timedelta(seconds=21)
    fresh = event(tenant_id, timestamp="2026-11-27T10:00:10Z")
    assert s.wait(tenant_id, since=T0 + timedelta(seconds=10, milliseconds=500), token="tok2") == "waiting"
    assert s.post(fresh, signature(MASTER, fresh)).status == 202
    assert [c[:2] for c in s.callbacks.calls] == [("succeed", "tok2")]


def test_a_commit_that_changed_nothing_is_not_waited_for() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-7")
    assert s.wait(tenant_id, changed=False) == "no-change"
    ((kind, _token, output),) = s.callbacks.calls
    assert kind == "succeed" and "NoChange" in output


def test_without_feedback_nothing_is_waited_for_and_nothing_is_called_verified() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-8")
    assert s.wait(tenant_id, feedback="none") == "not-verified"
    assert "NotVerified" in s.callbacks.calls[0][2] and s.store.waiters == {}


def test_offboarding_waits_for_the_uninstall() -> None:
    s = Setup()
    tenant_id = tenant(s.tenants, "r-9")
    s.wait(tenant_id, operation="offboard")
    ready = event(tenant_id)
    s.post(ready, signature(MASTER, ready))
    assert s.callbacks.calls == []
    gone = event(tenant_id, "UninstallSucceeded")
    s.post(gone, signature(MASTER, gone))
    assert [c[0] for c in s.callbacks.calls] == ["succeed"]


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [("InstallSucceeded", Outcome.READY), ("UpgradeSucceeded", Outcome.READY),
     ("UninstallSucceeded", Outcome.UNINSTALLED), ("UpgradeFailed", Outcome.FAILED),
     ("ArtifactFailed", Outcome.FAILED), ("RollbackSucceeded", Outcome.FAILED), ("Progressing", None)],
)  # fmt: skip
def test_reasons_map_to_outcomes(reason: str, outcome: Outcome | None) -> None:
    assert FluxEvent.model_validate_json(event("t-x-0123456789", reason)).outcome() is outcome


def test_a_failed_kustomization_names_its_tenants_from_the_objects_in_its_message() -> None:
    body = json.loads(event(None, "ReconciliationFailed"))
    body["involvedObject"]["kind"] = "Kustomization"
    body["message"] = "HelmRelease/t-a-0123456789/t-a-0123456789 dry-run failed; HelmRelease/pool/t-b-0123456789 x"
    parsed = FluxEvent.model_validate(body)
    assert parsed.tenant_ids() == ["t-a-0123456789", "t-b-0123456789"] and parsed.outcome() is Outcome.FAILED
