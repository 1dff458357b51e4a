"""CreateHybridActivation: the Systems Manager activation a hybrid tenant's nodes register with.

The activation id and code go straight into a Secrets Manager secret under the tenant; only the
secret's ARN enters the execution state, the record, events and logs. The customer handover
guide is written next to it for the operator.
"""

from __future__ import annotations

import json
from datetime import datetime

from onboarding.errors import InvalidSignup, OnboardingError
from onboarding.handover import render_handover
from onboarding.hybrid import HybridConfig, activation_secret_name, handover_key
from onboarding.manifests import GitOpsLayout
from onboarding.payloads import StepInput
from onboarding.ports import Clock, DocumentStore, HybridActivations, SecretStore
from onboarding.records import HybridResources


def create_hybrid_activation(
    step: StepInput,
    *,
    activations: HybridActivations,
    secrets: SecretStore,
    documents: DocumentStore,
    config: HybridConfig,
    layout: GitOpsLayout,
    now: Clock,
) -> HybridResources:
    spec = step.signup.hybrid
    if spec is None:
        raise InvalidSignup("CreateHybridActivation needs a hybrid signup")
    name = activation_secret_name(config.secret_prefix, step.tenant_id)
    tags = {"tenantId": step.tenant_id, "execution": step.execution, "managed-by": "tenant-onboarding"}
    expires = now() + config.activation_expiry
    existing = secrets.read(name)
    if existing is not None and json.loads(existing).get("execution") == step.execution:
        secret_arn = secrets.put(name, existing, tags)  # a retried invocation: keep the activation it made
        expires_at = json.loads(existing)["expiresAt"]
    else:
        activation_id, code = activations.create(
            name=step.tenant_id,
            role=config.nodes_role,
            registration_limit=spec.node_count,
            expires=expires,
            tags=tags,
        )
        payload = {
            "activationId": activation_id,
            "activationCode": code,
            "region": config.region,
            "expiresAt": expires.isoformat(),
            "execution": step.execution,
        }
        try:
            secret_arn = secrets.put(name, json.dumps(payload), tags)
        except OnboardingError:
            activations.delete(activation_id)  # never leave an activation nobody can find
            raise
        expires_at = expires.isoformat()
    guide = render_handover(
        tenant_id=step.tenant_id,
        tenant_name=step.signup.tenant_name,
        spec=spec,
        activation_secret_arn=secret_arn,
        region=config.region,
        cluster_name=config.cluster_name,
        expires=datetime.fromisoformat(expires_at),
        layout=layout,
    )
    uri = documents.put(handover_key(step.tenant_id), guide, "text/markdown; charset=utf-8")
    return HybridResources(activation_secret_arn=secret_arn, handover_uri=uri)
