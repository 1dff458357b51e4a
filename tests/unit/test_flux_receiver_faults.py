"""FluxReceiver under failed calls: retried in the receiver, then 503 for Flux to re-deliver; never 401 for a
failure to read the key; a lost SendTaskSuccess reply is taken as landed."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from onboarding.errors import GitRemoteUnavailable, TransientError
from onboarding.reconcile import ReconcileWaiter, Verdict, signature, tenant_token
from onboarding.records import TenantRecord
from onboarding.steps.flux_receiver import ATTEMPTS, NAMES_NO_TENANT, Answer, receive_flux_event
from tests.unit.test_reconcile import MASTER, T0, Clock, event, tenant
from tests.utils.fakes import InMemoryReconcileStore, InMemoryTenantStore


class Failing:
    """Fails the next ``times`` calls of the operations named in ``plan``: ``before`` (nothing happened) or
    ``after`` (it took effect, then the reply was lost)."""

    def __init__(self) -> None:
        self.plan: dict[str, tuple[str, int]] = {}
        self.fired: list[str] = []

    def call(self, name: str, real: Callable[[], Any]) -> Any:
        kind, times = self.plan.get(name, ("", 0))
        if times <= 0:
            return real()
        self.plan[name] = (kind, times - 1)
        self.fired.append(name)
        if kind == "after":
            real()
        raise TransientError(f"{name}: injected {kind}")


class Tenants(InMemoryTenantStore):
    faults: Failing

    def get(self, tenant_id: str) -> TenantRecord | None:
        return self.faults.call("tenants.get", lambda: InMemoryTenantStore.get(self, tenant_id))


class Store(InMemoryReconcileStore):
    def __init__(self, faults: Failing) -> None:
        super().__init__()
        self.faults = faults

    def put_verdict(self, verdict: Verdict) -> None:
        def put() -> None:
            if verdict not in self.verdicts:  # DynamoDB: the same key, the same item
                self.verdicts.append(verdict)

        self.faults.call("put_verdict", put)

    def waiter(self, tenant_id: str) -> ReconcileWaiter | None:
        return self.faults.call("waiter", lambda: InMemoryReconcileStore.waiter(self, tenant_id))

    def remove_waiter(self, tenant_id: str, task_token: str) -> None:
        self.faults.call("remove_waiter", lambda: InMemoryReconcileStore.remove_waiter(self, tenant_id, task_token))


class StepFunctions:
    """Task tokens as Step Functions keeps them: a token is used once; then TaskTimedOut/InvalidToken (False)."""

    def __init__(self, faults: Failing) -> None:
        self.faults, self.waiting = faults, {"tok"}
        self.resumed: list[tuple[str, str]] = []

    def _use(self, token: str, how: str) -> bool:
        if token not in self.waiting:
            return False  # the adapter's answer to TaskTimedOut, TaskDoesNotExist, InvalidToken
        self.waiting.discard(token)
        self.resumed.append((how, token))
        return True

    def succeed(self, task_token: str, output: Mapping[str, object]) -> bool:
        return bool(self.faults.call("send_task_success", lambda: self._use(task_token, "success")))

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return bool(self.faults.call("send_task_failure", lambda: self._use(task_token, "failure")))


class Receiver:
    def __init__(self) -> None:
        self.faults = Failing()
        self.tenants = Tenants()
        self.tenants.faults = self.faults
        self.store, self.sfn, self.clock = Store(self.faults), StepFunctions(self.faults), Clock()
        self.slept: list[float] = []
        self.secret_reads = 0

    def secret(self) -> str:
        self.secret_reads += 1
        return str(self.faults.call("secret", lambda: MASTER))

    def post(self, body: bytes, token: str = MASTER) -> Answer:
        return receive_flux_event(
            body, signature(token, body), master_token=self.secret, tenants=self.tenants, store=self.store,
            callbacks=self.sfn, now=self.clock, sleep=self.slept.append,
        )  # fmt: skip

    def waiting(self, tenant_id: str) -> None:
        waiter = ReconcileWaiter(tenant_id=tenant_id, task_token="tok", execution="e", expect="ready",
                                 chart_version="1.0.0", since=T0)  # fmt: skip
        InMemoryReconcileStore.put_waiter(self.store, waiter)


CALLS = ["secret", "tenants.get", "put_verdict", "waiter", "send_task_success", "remove_waiter"]


@pytest.mark.parametrize("kind", ["before", "after"])
@pytest.mark.parametrize("call", CALLS)
def test_one_failed_call_is_retried_in_the_receiver_and_the_execution_resumed_once(call: str, kind: str) -> None:
    # Given an execution waiting for Flux's verdict, When one call of the receiver fails once
    r = Receiver()
    tenant_id = tenant(r.tenants, "rf-1")
    r.waiting(tenant_id)
    r.faults.plan[call] = (kind, 1)
    answer = r.post(event(tenant_id))
    # Then the receiver retried it: the verdict is recorded once, the execution resumed once, the waiter gone
    assert r.faults.fired == [call]
    assert answer.status == 202 and answer.body["recorded"] == [tenant_id]
    assert r.sfn.resumed == [("success", "tok")] and r.store.waiters == {}
    assert [v.tenant_id for v in r.store.verdicts] == [tenant_id] and len(r.slept) == 1


@pytest.mark.parametrize("call", CALLS)
def test_a_call_that_keeps_failing_is_a_503_and_flux_re_delivery_completes_it(call: str) -> None:
    r = Receiver()
    tenant_id = tenant(r.tenants, "rf-2")
    r.waiting(tenant_id)
    body = event(tenant_id)
    # When a call fails on every retry of the receiver (its reply lost each time: the worst case)
    r.faults.plan[call] = ("after", ATTEMPTS)
    first = r.post(body)
    # Then Flux is asked to send the event again (never 401), and nothing is resumed twice
    assert first.status == 503 and first.retry_after and "try again" in first.body["error"]
    assert len(r.sfn.resumed) <= 1
    # When Flux re-delivers the same event, Then the execution is resumed (exactly once in all), nothing waits
    again = r.post(body)
    assert again.status == 202 and again.body["recorded"] == [tenant_id]
    assert r.sfn.resumed == [("success", "tok")] and r.store.waiters == {}


def test_a_lost_send_task_success_reply_is_taken_as_landed_not_as_a_failure() -> None:
    r = Receiver()
    tenant_id = tenant(r.tenants, "rf-3")
    r.waiting(tenant_id)
    r.faults.plan["send_task_success"] = ("after", 1)  # resumed, then the reply was lost
    answer = r.post(event(tenant_id))
    # the retry finds the token used (InvalidToken/TaskTimedOut): it landed; the waiter is removed; no error
    assert answer.status == 202 and r.sfn.resumed == [("success", "tok")] and r.store.waiters == {}


def test_a_failed_install_survives_a_lost_send_task_failure_reply() -> None:
    r = Receiver()
    tenant_id = tenant(r.tenants, "rf-4")
    r.waiting(tenant_id)
    r.faults.plan["send_task_failure"] = ("after", 1)
    answer = r.post(event(tenant_id, "InstallFailed"))
    assert answer.status == 202 and answer.body["failures"] == 1
    assert r.sfn.resumed == [("failure", "tok")] and r.store.waiters == {}


def test_a_failure_to_read_the_key_is_a_5xx_never_a_bad_signature() -> None:
    r = Receiver()
    tenant_id = tenant(r.tenants, "rf-5")
    body = event(tenant_id)
    r.faults.plan["secret"] = ("before", ATTEMPTS)  # throttled on every attempt
    assert r.post(body).status == 503
    # a permanent failure to read it (the adapter's GitRemoteUnavailable for a denied secret): 500, retried by Flux

    def denied() -> str:
        raise GitRemoteUnavailable("secretsmanager:GetSecretValue: AccessDeniedException")

    answer = receive_flux_event(body, signature(MASTER, body), master_token=denied, tenants=r.tenants,
                                store=r.store, callbacks=r.sfn, now=r.clock, sleep=r.slept.append)  # fmt: skip
    assert answer.status == 500 and "bad signature" not in json.dumps(answer.body)
    # and a signature that is really wrong is still 401, with the key read fine
    assert r.post(body, token="not-the-token").status == 401
    assert r.store.verdicts == []


def test_an_unsigned_request_reads_no_key() -> None:
    r = Receiver()
    answer = receive_flux_event(event(None), None, master_token=r.secret, tenants=r.tenants, store=r.store,
                                callbacks=r.sfn, now=r.clock)  # fmt: skip
    assert answer.status == 401 and r.secret_reads == 0


def remote_kustomization_event(tenant_id: str, metadata: dict[str, str]) -> bytes:
    """A remote customer's kustomize-controller event: no tenant annotation, only what its Alert adds."""
    return event(None, "ReconciliationSucceeded", involvedObject={"kind": "Kustomization", "name": "flux-system",
                 "namespace": "flux-system"}, metadata={"revision": "latest@sha256:ab", **metadata},
                 message=f"HelmRelease/{tenant_id}/{tenant_id} configured")  # fmt: skip


def test_a_remote_clusters_event_naming_no_tenant_is_401_saying_why_and_202_once_its_alert_names_it() -> None:
    # The chaos benchmark's 401s: a remote customer's Kustomization events carry no tenantId, so the receiver
    # checks them against the master token, while the customer's cluster signs with its own tenant's token.
    r = Receiver()
    remote = tenant(r.tenants, "rf-remote", "remote", awsAccountId="222222222222", region="eu-west-1")
    own = tenant_token(MASTER, remote)
    anonymous = remote_kustomization_event(remote, {})
    answer = r.post(anonymous, token=own)
    assert answer.status == 401 and NAMES_NO_TENANT in answer.body["error"]
    # the customer's Alert sets eventMetadata.tenantId (docs/remote-customer-runbook.md): verified, accepted
    named = remote_kustomization_event(remote, {"tenantId": remote})
    assert r.post(named, token=own).status == 202
    assert r.post(named, token=tenant_token(MASTER, "t-other-0123456789")).status == 401  # and only by its own
    assert r.store.verdicts == []  # a successful Kustomization is no verdict
