"""Hybrid tenants' activation: where its secret and handover guide live, and how they are removed."""

from __future__ import annotations

import json
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from onboarding.ports import HybridActivations, SecretStore


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


def release_activation(
    tenant_id: str, *, activations: HybridActivations, secrets: SecretStore, secret_prefix: str
) -> list[str]:
    """Delete the tenant's activation and its secret (compensation and offboarding). Idempotent."""
    actions = []
    name = activation_secret_name(secret_prefix, tenant_id)
    stored = secrets.read(name)
    if stored is not None:
        if activations.delete(json.loads(stored)["activationId"]):
            actions.append("deleted the hybrid activation")
        secrets.delete(name)
        actions.append("deleted the activation secret")
    return actions
