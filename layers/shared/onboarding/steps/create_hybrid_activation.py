"""CreateHybridActivation: the Systems Manager activation a hybrid tenant's nodes register with.

The activation id and code go straight into a Secrets Manager secret under the tenant; only the
secret's ARN enters the execution state, the record, events and logs. The customer handover
guide is written next to it for the operator.

Exactly once, under lost replies and retries: every activation is tagged with the tenant and the
execution and found again by those tags. A retry reuses the activation its secret names when that
activation is still live (the code cannot be read back from SSM, so an activation whose code never
reached the secret is useless); every other activation of the tenant is deleted. The step returns
only when the secret names a live activation.
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import datetime
from typing import Any

from onboarding.errors import InvalidSignup, OnboardingError
from onboarding.handover import render_handover
from onboarding.hybrid import TENANT_TAG, HybridConfig, activation_secret_name, activation_tags, handover_key
from onboarding.hybrid import stored_activation as parse_stored
from onboarding.manifests import GitOpsLayout
from onboarding.payloads import StepInput
from onboarding.ports import Clock, DocumentStore, HybridActivations, SecretStore
from onboarding.records import HybridResources


def _store_new_activation(
    step: StepInput,
    *,
    activations: HybridActivations,
    secrets: SecretStore,
    config: HybridConfig,
    now: Clock,
    node_count: int,
) -> tuple[dict[str, Any], str]:
    """Create an activation and put its code in the secret; returns the secret's content and ARN."""
    name = activation_secret_name(config.secret_prefix, step.tenant_id)
    tags = activation_tags(step.tenant_id, step.execution)
    expires = now() + config.activation_expiry
    # a lost reply raises here although SSM created one: the retry finds it by its tags, and deletes it
    activation_id, code = activations.create(
        name=step.tenant_id, role=config.nodes_role, registration_limit=node_count, expires=expires, tags=tags
    )
    payload = {
        "activationId": activation_id,
        "activationCode": code,
        "region": config.region,
        "expiresAt": expires.isoformat(),
        "execution": step.execution,
    }
    value = json.dumps(payload)
    try:
        return payload, secrets.put(name, value, tags)
    except OnboardingError:
        # Was the secret stored, and only the reply lost? Read it back (when that fails too, nothing is deleted:
        # the retry reads it again). If it names this activation, keep it: never delete what the secret names.
        if secrets.read(name) == value:
            return payload, secrets.put(name, value, tags)  # the same value again, for the secret's ARN
        with suppress(OnboardingError):  # if this fails too, it is still tagged: the retry or compensation finds it
            activations.delete(activation_id)  # its code is in no secret: nobody can ever use it
        raise


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
    tenant_scope = {TENANT_TAG: step.tenant_id}
    raw = secrets.read(name)
    stored = parse_stored(raw)
    payload: dict[str, Any] | None = None
    if raw is not None and stored is not None and stored.get("execution") == step.execution:
        live = {a.activation_id for a in activations.find(name=step.tenant_id, tags=tenant_scope) if not a.expired}
        if stored["activationId"] in live:
            payload = stored  # a retried invocation: its activation is live and its code is in the secret
            secret_arn = secrets.put(name, raw, activation_tags(step.tenant_id, step.execution))
    if payload is None:
        payload, secret_arn = _store_new_activation(
            step, activations=activations, secrets=secrets, config=config, now=now, node_count=spec.node_count
        )
    # the secret names the activation to keep; any other of this tenant (a lost reply's, an earlier attempt's,
    # one whose code never reached the secret) can never be used: delete it now rather than let it stay valid
    for found in activations.find(name=step.tenant_id, tags=tenant_scope):
        if found.activation_id != payload["activationId"]:
            activations.delete(found.activation_id)
    guide = render_handover(
        tenant_id=step.tenant_id,
        tenant_name=step.signup.tenant_name,
        spec=spec,
        activation_secret_arn=secret_arn,
        region=config.region,
        cluster_name=config.cluster_name,
        expires=datetime.fromisoformat(payload["expiresAt"]),
        layout=layout,
    )
    uri = documents.put(handover_key(step.tenant_id), guide, "text/markdown; charset=utf-8")
    return HybridResources(activation_secret_arn=secret_arn, handover_uri=uri)
