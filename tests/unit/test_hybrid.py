"""Hybrid tenants as logic: CIDR rules, placement and isolation as data, the activation and its secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from typing import Any

import pytest
import yaml

from onboarding.cidrs import claims_of, cluster_conflicts, tenant_conflicts
from onboarding.contract import HybridSpec, Tier
from onboarding.errors import CidrConflict, StorageError
from onboarding.hybrid import HybridConfig, activation_secret_name
from onboarding.identity import derive_tenant_id
from onboarding.manifests import TAINT_KEY, GitOpsLayout, SharedEndpoint, tenant_files
from onboarding.payloads import CompensateInput, StepInput
from onboarding.records import TenantSpec
from onboarding.steps.compensate import HybridCleanup, compensate
from onboarding.steps.create_hybrid_activation import create_hybrid_activation
from onboarding.steps.register_tenant import register_tenant
from tests.utils.fakes import FakeActivations, FakeDocuments, FakeSecrets, InMemoryTenantStore, RecordingPublisher

AT = datetime(2026, 11, 24, 10, tzinfo=UTC)
LAYOUT = GitOpsLayout(shared_endpoints=(SharedEndpoint(cidr="10.0.100.0/24", port=443, description="provider API"),))
BUNDLED = {
    "nodeCidrs": ["192.168.10.0/24"],
    "podCidrs": ["192.168.128.0/20"],
    "nodeCount": 3,
    "supportingServices": "bundled",
}
CUSTOMER = {
    "nodeCidrs": ["10.20.0.0/24"],
    "podCidrs": ["10.21.0.0/16"],
    "nodeCount": 2,
    "supportingServices": "customer",
    "databaseEndpoint": "10.20.0.50:5432",
    "databaseSecretArn": "arn:aws:secretsmanager:eu-west-1:222222222222:secret:db-AbCdEf",
}


def now() -> datetime:
    return AT


def step(signup_id: str = "h-1", hybrid: dict[str, Any] = BUNDLED, name: str = "Umbrella") -> StepInput:
    tenant_id = derive_tenant_id(signup_id)
    signup = {
        "signupId": signup_id,
        "tenantName": name,
        "adminEmail": "a@b.example",
        "tier": "advanced",
        "deploymentModel": "hybrid",
        "hybrid": hybrid,
    }
    return StepInput.model_validate({"tenantId": tenant_id, "attempt": 1, "execution": tenant_id, "signup": signup})


def documents(spec: TenantSpec) -> list[dict[str, Any]]:
    (content,) = tenant_files(spec, LAYOUT).values()
    return list(yaml.safe_load_all(content))


def spec_of(hybrid: dict[str, Any], suspended: bool = False) -> TenantSpec:
    return TenantSpec(
        tenant_id="t-h-0123456789",
        tenant_name="Umbrella",
        tier=Tier.ADVANCED,
        deployment_model="hybrid",
        hybrid=HybridSpec.model_validate(hybrid),
        suspended=suspended,
    )


# ------------------------------------------------------------------ CIDR rules
def test_cluster_ranges_are_named_per_field() -> None:
    errors = cluster_conflicts(HybridSpec.model_validate(CUSTOMER), [IPv4Network("10.0.0.0/8")])
    assert [e.field for e in errors] == ["hybrid.nodeCidrs.0", "hybrid.podCidrs.0"]


def test_overlaps_with_other_tenants_are_found_and_own_ranges_ignored() -> None:
    mine = claims_of("t-a", HybridSpec.model_validate(BUNDLED))
    other = claims_of("t-b", HybridSpec.model_validate({**CUSTOMER, "nodeCidrs": ["192.168.10.128/25"]}))
    assert tenant_conflicts(mine, other) == ["node range 192.168.10.0/24 overlaps 192.168.10.128/25 of another tenant"]
    assert tenant_conflicts(mine, mine) == []


def test_register_refuses_overlapping_ranges_and_claims_them_atomically() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    register_tenant(step("h-1"), tenants=store, publisher=publisher, now=now)
    assert {str(c.cidr) for c in store.cidrs.claims} == {"192.168.10.0/24", "192.168.128.0/20"}
    with pytest.raises(CidrConflict, match=r"overlaps 192\.168\.10\.0/24"):
        register_tenant(
            step("h-2", {**CUSTOMER, "nodeCidrs": ["192.168.10.64/26"]}, "Other"),
            tenants=store,
            publisher=publisher,
            now=now,
        )
    assert store.get(derive_tenant_id("h-2")) is None
    record = store.get(derive_tenant_id("h-1"))
    assert record is not None and record.hybrid is not None and record.hybrid.node_count == 3


# placement and isolation are tested on what the chart renders: tests/chart/test_pipeline_values.py


# ------------------------------------------------------------------ activation, secret, guide


CONFIG = HybridConfig(
    nodes_role="AmazonEKSHybridNodesRole",
    activation_expiry=timedelta(days=7),
    secret_prefix="onboarding/tenants",
    cluster_name="saas-production",
    region="eu-west-1",
)


def provision(s: StepInput, activations: FakeActivations, secrets: FakeSecrets, docs: FakeDocuments) -> Any:
    return create_hybrid_activation(
        s, activations=activations, secrets=secrets, documents=docs, config=CONFIG, layout=LAYOUT, now=now
    )


def test_the_activation_goes_into_the_secret_and_nowhere_else() -> None:
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    s = step()
    resources = provision(s, activations, secrets, docs)
    (activation,) = activations.live.values()
    assert activation["limit"] == 3 and activation["expires"] == AT + timedelta(days=7)
    assert activation["tags"]["tenantId"] == s.tenant_id
    stored = json.loads(secrets.values[activation_secret_name("onboarding/tenants", s.tenant_id)])
    assert stored["activationCode"] == "SECRET-CODE-1" and stored["activationId"] == "act-1"
    wire = json.dumps(resources.model_dump(mode="json", by_alias=True))
    assert "SECRET-CODE" not in wire and "act-1" not in wire
    (guide,) = docs.docs.values()
    assert resources.activation_secret_arn in guide and "SECRET-CODE" not in guide and "act-1" not in guide
    assert f"--register-with-taints={TAINT_KEY}={s.tenant_id}:NoSchedule" in guide
    assert "192.168.10.0/24" in guide and "Site-to-Site VPN" in guide and "Who upgrades what" in guide


def test_a_retried_invocation_reuses_its_activation() -> None:
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    first = provision(step(), activations, secrets, docs)
    again = provision(step(), activations, secrets, docs)
    assert first == again and len(activations.live) == 1


def test_an_activation_whose_secret_cannot_be_stored_is_deleted_at_once() -> None:
    activations = FakeActivations()
    with pytest.raises(StorageError):
        provision(step(), activations, FakeSecrets(fail=True), FakeDocuments())
    assert activations.live == {}


def test_compensation_removes_activation_secret_guide_and_cidrs() -> None:
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    store = InMemoryTenantStore()
    s = step()
    register_tenant(s, tenants=store, publisher=RecordingPublisher(), now=now)
    resources = provision(s, activations, secrets, docs)
    failed = CompensateInput.model_validate(
        {
            **s.wire(),
            "failedStep": "CommitGitOps",
            "error": {"Error": "GitRemoteUnavailable"},
            "hybridResources": resources.model_dump(mode="json", by_alias=True),
        }
    )
    cleanup = HybridCleanup(activations, secrets, docs, secret_prefix="onboarding/tenants")
    result = compensate(failed, tenants=store, repo=None, hybrid=cleanup)
    assert result.compensated
    assert activations.live == {} and secrets.values == {} and docs.docs == {}
    assert store.cidrs.claims == []
