"""ReleaseHybridActivation: an offboarded hybrid tenant's activation, secret, CIDRs and guide are removed."""

from __future__ import annotations

import json

from onboarding.create_hybrid_activation import activation_secret_name, handover_key
from onboarding.models import Compensation, LifecycleStepInput
from onboarding.ports import DocumentStore, HybridActivations, SecretStore, TenantStore


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


def release_hybrid_activation(
    step: LifecycleStepInput,
    *,
    tenants: TenantStore,
    activations: HybridActivations,
    secrets: SecretStore,
    documents: DocumentStore,
    secret_prefix: str,
    handover_bucket: str,
) -> Compensation:
    """Deregister the activation and remove its secret, the CIDR claims and the handover guide."""
    actions = release_activation(step.tenant_id, activations=activations, secrets=secrets, secret_prefix=secret_prefix)
    if tenants.release_cidrs(step.tenant_id):
        actions.append("released the tenant's CIDRs")
    documents.delete(f"s3://{handover_bucket}/{handover_key(step.tenant_id)}")
    actions.append("deleted the handover guide")
    return Compensation(compensated=True, actions=actions)
