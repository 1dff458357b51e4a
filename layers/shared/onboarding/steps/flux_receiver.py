"""FluxReceiver: notification-controller events in, verified, recorded, and handed to the execution waiting.

Missing or wrong signature: 401, nothing changes. Malformed body: 400. An event about an unknown tenant
is accepted and logged and changes nothing. An event that names no tenant (no ``metadata.tenantId``, and no
tenant object in a failed Kustomization's message) is checked against the master token only: a remote
customer's token is valid for its own tenant alone, so its Alert must name the tenant (``eventMetadata``).
Verdicts are recorded as they come, because Flux may answer before the execution reaches its wait; a waiting
execution is resumed at once.

A failed call does not lose the verdict. Each call the receiver makes (the master token's secret, the tenant
records, the reconcile table, Step Functions' SendTaskSuccess or SendTaskFailure) is retried here on a transient
failure (``ATTEMPTS`` in all, from ``BACKOFF_SECONDS``, doubling); a call that still fails is answered 503 with
``Retry-After``, and notification-controller posts the same event again (it retries a 5xx or 429 answer, 5
posts at most within its Provider's timeout; see docs/fault-injection.md); a permanent failure is answered 500,
which it retries too. Only a signature that does not match is 401: a failure to read the key never is.

Re-delivery and retries are safe: a verdict is the same item when put again; a task token already used is
answered ``TaskTimedOut``, ``TaskDoesNotExist`` or ``InvalidToken``, which after a lost reply means the first
call landed (``TaskCallbacks`` returns False), so the waiter is removed as if it had just been resumed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError

from onboarding.contract.common import DeploymentModel
from onboarding.errors import OnboardingError, TransientError
from onboarding.observability import logger
from onboarding.ports import Clock, ReconcileStore, TaskCallbacks, TenantStore
from onboarding.reconcile import FluxEvent, Outcome, Verdict, seen_at, signed_by, tenant_token
from onboarding.records import TenantRecord

ATTEMPTS = 3  # per call, in this invocation; then 503 and notification-controller's re-delivery
BACKOFF_SECONDS = 0.1
RETRY_AFTER_SECONDS = 1  # notification-controller honours Retry-After on 503: 5 posts fit its 15 s timeout

NAMES_NO_TENANT = (
    "the event names no tenant (metadata.tenantId), so only the master token can sign it; a remote customer's "
    "Alert must set eventMetadata.tenantId to its tenant"
)

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: int | None = None  # seconds, on a 503

    def json(self) -> str:
        return json.dumps(self.body)


def _token_for(tenant_id: str, record: TenantRecord | None, master: str) -> str:
    """Remote tenants' clusters sign with their own derived token; the provider's cluster with the master."""
    if record is not None and record.deployment_model is DeploymentModel.REMOTE:
        return tenant_token(master, tenant_id)
    return master


def _retried(call: Callable[[], T], what: str, sleep: Callable[[float], None]) -> T:
    """``call``, again on a TransientError (``ATTEMPTS`` in all); the last failure is raised."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call()
        except TransientError as exc:
            if attempt == ATTEMPTS:
                raise
            logger.info("flux receiver: retrying a transient failure", extra={"call": what, "error": str(exc)})
            sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def receive_flux_event(
    body: bytes,
    signature: str | None,
    *,
    master_token: str | Callable[[], str],
    tenants: TenantStore,
    store: ReconcileStore,
    callbacks: TaskCallbacks,
    now: Clock,
    sleep: Callable[[float], None] = time.sleep,
) -> Answer:
    """``master_token``: the token, or how to read it (read only for a signed request, retried like every call)."""
    if not signature:
        return Answer(401, {"error": "missing X-Signature"})
    try:
        return _receive(body, signature, master_token, tenants, store, callbacks, now, sleep)
    except TransientError as exc:
        logger.warning("flux event not recorded: a call kept failing; Flux re-delivers", extra={"error": str(exc)})
        return Answer(503, {"error": f"try again: {exc}"[:300]}, retry_after=RETRY_AFTER_SECONDS)
    except OnboardingError as exc:
        logger.error("flux event not recorded: a call failed", extra={"error": str(exc)})
        return Answer(500, {"error": f"{type(exc).__name__}: {exc}"[:300]})


def _receive(
    body: bytes,
    signature: str,
    master_token: str | Callable[[], str],
    tenants: TenantStore,
    store: ReconcileStore,
    callbacks: TaskCallbacks,
    now: Clock,
    sleep: Callable[[float], None],
) -> Answer:
    def retried(call: Callable[[], T], what: str) -> T:
        return _retried(call, what, sleep)

    master = master_token if isinstance(master_token, str) else retried(master_token, "the master token")
    try:
        event = FluxEvent.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        if not signed_by(master, body, signature):
            return Answer(401, {"error": "bad signature"})
        return Answer(400, {"error": f"not a notification-controller event: {str(exc)[:300]}"})
    tenant_ids = event.tenant_ids()
    records = {t: retried(partial(tenants.get, t), f"tenant {t}") for t in tenant_ids}
    # Every tenant an event names must be vouched for by the token of that tenant's cluster.
    keys = {_token_for(t, records[t], master) for t in tenant_ids} or {master}
    if not all(signed_by(key, body, signature) for key in keys):
        logger.warning("flux event with a bad signature", extra={"tenants": tenant_ids, "reason": event.reason})
        if not tenant_ids:  # a remote cluster's token proves nothing here: it is valid for its own tenant only
            return Answer(401, {"error": f"bad signature: {NAMES_NO_TENANT}"})
        return Answer(401, {"error": "bad signature"})
    outcome = event.outcome()
    if outcome is None:
        return Answer(202, {"accepted": True, "recorded": []})
    at = seen_at(event, now())  # once per event: a retried put writes the same verdict
    recorded = []
    for tenant_id in tenant_ids:
        if records[tenant_id] is None:
            logger.info("flux event for an unknown tenant", extra={"tenantId": tenant_id, "reason": event.reason})
            continue
        verdict = Verdict(
            tenant_id=tenant_id,
            outcome=outcome,
            reason=event.reason,
            message=event.message,
            revision=event.revision,
            at=at,
        )
        retried(partial(store.put_verdict, verdict), f"verdict of {tenant_id}")
        recorded.append(tenant_id)
        waiter = retried(partial(store.waiter, tenant_id), f"waiter of {tenant_id}")
        fresh = waiter is not None and (waiter.since is None or verdict.at >= waiter.since)
        if waiter is not None and fresh and verdict.answers(waiter.expect, waiter.chart_version):
            token = waiter.task_token
            resumed = retried(partial(verdict.resume, token, callbacks), f"resume {tenant_id}")
            if not resumed:  # the token was used already (a lost reply landed) or the wait ended: nothing waits
                logger.info("flux verdict: the execution no longer waits", extra={"tenantId": tenant_id})
            retried(partial(store.remove_waiter, tenant_id, token), f"waiter of {tenant_id}")
    failures = len(recorded) if outcome is Outcome.FAILED else 0
    return Answer(202, {"accepted": True, "recorded": recorded, "failures": failures})
