"""Hybrid tenants' activation: where its secret and handover guide live, how activations are found and removed.

Every activation the pipeline creates carries the tags ``tenantId`` and ``execution`` and the tenant id as its
DefaultInstanceName, so an activation whose ``CreateActivation`` reply was lost is found again by its tags:
never untracked. The activation code exists only in the reply and then in the tenant's secret; an activation
whose code was lost cannot be used by anyone, and is deleted.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from onboarding.ports import HybridActivations, SecretStore

TENANT_TAG = "tenantId"
EXECUTION_TAG = "execution"


class HybridConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    nodes_role: str
    activation_expiry: timedelta
    secret_prefix: str
    cluster_name: str
    region: str


def activation_secret_name(prefix: str, tenant_id: str) -> str:
    return f"{prefix.rstrip('/')}/{tenant_id}/hybrid-activation"


def handover_key(tenant_id: str) -> str:
    return f"handover/{tenant_id}/hybrid-nodes.md"


def activation_tags(tenant_id: str, execution: str) -> dict[str, str]:
    """The tags of every activation (and activation secret) an execution creates: how it is found again."""
    return {TENANT_TAG: tenant_id, EXECUTION_TAG: execution, "managed-by": "tenant-onboarding"}


def stored_activation(value: str | None) -> dict[str, Any] | None:
    """The activation secret's content (activationId, activationCode, region, expiresAt, execution), or None."""
    if value is None:
        return None
    try:
        content = json.loads(value)
    except ValueError:
        return None  # not ours to read: treated as no activation, and overwritten
    return content if isinstance(content, dict) and isinstance(content.get("activationId"), str) else None


def release_activation(
    tenant_id: str,
    *,
    activations: HybridActivations,
    secrets: SecretStore,
    secret_prefix: str,
    execution: str | None = None,
) -> list[str]:
    """Delete the tenant's activations and their secret (compensation and offboarding). Idempotent.

    With ``execution`` None, every activation tagged with the tenant goes, whichever execution created it, as
    well as the one the secret names; with an execution, only that execution's activations, and the secret only
    when that execution wrote it. Activations go first: a secret is never removed while an activation it names
    might stay behind.
    """
    name = activation_secret_name(secret_prefix, tenant_id)
    raw = secrets.read(name)
    stored = stored_activation(raw)
    scope = {TENANT_TAG: tenant_id} if execution is None else {TENANT_TAG: tenant_id, EXECUTION_TAG: execution}
    doomed = {found.activation_id for found in activations.find(name=tenant_id, tags=scope)}
    secret_in_scope = raw is not None and (
        execution is None or (stored is not None and stored.get("execution") == execution)
    )
    if stored is not None and secret_in_scope:
        doomed.add(stored["activationId"])
    deleted = sum(1 for activation_id in sorted(doomed) if activations.delete(activation_id))
    actions = []
    if deleted:
        actions.append("deleted the hybrid activation" if deleted == 1 else f"deleted {deleted} hybrid activations")
    if secret_in_scope and secrets.delete(name):
        actions.append("deleted the activation secret")
    return actions
