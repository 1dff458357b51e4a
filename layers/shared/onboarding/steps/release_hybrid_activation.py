"""ReleaseHybridActivation: an offboarded hybrid tenant's activation, secret, CIDRs and guide are removed."""

from __future__ import annotations

from onboarding.hybrid import handover_key, release_activation
from onboarding.lifecycle_payloads import LifecycleStepInput
from onboarding.payloads import Compensation
from onboarding.ports import DocumentStore, HybridActivations, SecretStore, TenantStore


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
    """Delete every activation tagged with the tenant (whichever execution created it), its secret, the CIDR
    claims and the handover guide. Errors propagate: transient ones are retried by the state machine."""
    actions = release_activation(step.tenant_id, activations=activations, secrets=secrets, secret_prefix=secret_prefix)
    if tenants.release_cidrs(step.tenant_id):
        actions.append("released the tenant's CIDRs")
    documents.delete(f"s3://{handover_bucket}/{handover_key(step.tenant_id)}")
    actions.append("deleted the handover guide")
    return Compensation(compensated=True, actions=actions)
