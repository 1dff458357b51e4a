"""FluxReceiver: notification-controller events in, verified, recorded, and handed to the execution waiting.

Missing or wrong signature: 401, nothing changes. Malformed body: 400. An event about an unknown tenant
is accepted and logged and changes nothing. Verdicts are recorded as they come, because Flux may answer
before the execution reaches its wait; a waiting execution is resumed at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from onboarding.contract import DeploymentModel
from onboarding.observability import logger
from onboarding.ports import Clock, ReconcileStore, TaskCallbacks, TenantStore
from onboarding.reconcile import FluxEvent, Outcome, Verdict, signed_by, tenant_token


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.body)


def _token_for(tenant_id: str | None, master: str, tenants: TenantStore) -> str:
    """Remote tenants' clusters sign with their own derived token; the provider's cluster with the master."""
    record = tenants.get(tenant_id) if tenant_id else None
    if record is not None and record.deployment_model is DeploymentModel.REMOTE:
        return tenant_token(master, record.tenant_id)
    return master


def receive_flux_event(
    body: bytes,
    signature: str | None,
    *,
    master_token: str,
    tenants: TenantStore,
    store: ReconcileStore,
    callbacks: TaskCallbacks,
    now: Clock,
) -> Answer:
    if not signature:
        return Answer(401, {"error": "missing X-Signature"})
    try:
        event = FluxEvent.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        if not signed_by(master_token, body, signature):
            return Answer(401, {"error": "bad signature"})
        return Answer(400, {"error": f"not a notification-controller event: {str(exc)[:300]}"})
    tenant_ids = event.tenant_ids()
    # Every tenant an event names must be vouched for by the token of that tenant's cluster.
    keys = {_token_for(t, master_token, tenants) for t in tenant_ids} or {master_token}
    if not all(signed_by(key, body, signature) for key in keys):
        logger.warning("flux event with a bad signature", extra={"tenants": tenant_ids, "reason": event.reason})
        return Answer(401, {"error": "bad signature"})
    outcome = event.outcome()
    if outcome is None:
        return Answer(202, {"accepted": True, "recorded": []})
    recorded = []
    for tenant_id in tenant_ids:
        if tenants.get(tenant_id) is None:
            logger.info("flux event for an unknown tenant", extra={"tenantId": tenant_id, "reason": event.reason})
            continue
        verdict = Verdict(
            tenant_id=tenant_id,
            outcome=outcome,
            reason=event.reason,
            message=event.message,
            revision=event.revision,
            at=now(),
        )
        store.put_verdict(verdict)
        recorded.append(tenant_id)
        waiter = store.waiter(tenant_id)
        fresh = waiter is not None and (waiter.since is None or verdict.at >= waiter.since)
        if waiter is not None and fresh and verdict.answers(waiter.expect, waiter.chart_version):
            verdict.resume(waiter.task_token, callbacks)
            store.remove_waiter(tenant_id, waiter.task_token)
    failures = len(recorded) if outcome is Outcome.FAILED else 0
    return Answer(202, {"accepted": True, "recorded": recorded, "failures": failures})
