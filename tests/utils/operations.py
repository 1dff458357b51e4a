"""Lifecycle requests and the small drivers the lifecycle tests share."""

from __future__ import annotations

import uuid
from typing import Any

import yaml

from onboarding.identity import derive_tenant_id
from tests.conftest import signup_event
from tests.utils.paths import tenant_file

OPERATIONS = {
    "offboard": "Tenant Offboarding Requested",
    "change-tier": "Tenant Tier Change Requested",
    "suspend": "Tenant Suspend Requested",
    "resume": "Tenant Resume Requested",
}


def request(operation: str, tenant_id: str, operation_id: str | None = None, **extra: Any) -> dict[str, Any]:
    detail = {"tenantId": tenant_id, "operationId": operation_id or f"{operation}-{uuid.uuid4().hex[:8]}", **extra}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": OPERATIONS[operation],
        "source": "saas.signup",
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def run(stack: Any, *events: dict[str, Any]) -> None:
    stack.put_events(list(events))
    stack.wait_idle(120)


def events_of(stack: Any, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.status_events() if e["detail-type"] == detail_type]


def documents(stack: Any, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's objects in git, its HelmRelease last (a siloed tenant's own Alert is not one of them)."""
    text = stack.git.read(tenant_file(tenant_id))
    return [] if text is None else [d for d in yaml.safe_load_all(text) if d["kind"] != "Alert"]


def onboard(stack: Any, signup_id: str, name: str, tier: str = "basic") -> str:
    run(stack, signup_event(signup_id, name, tier=tier))
    tenant_id = derive_tenant_id(signup_id)
    assert stack.tenant(tenant_id)["status"] == "ACTIVE"
    return tenant_id
