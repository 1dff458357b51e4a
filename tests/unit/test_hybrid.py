"""Hybrid tenants as logic: CIDR rules, placement and isolation as data, the activation and its secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from typing import Any

import pytest
import yaml

from onboarding.cidrs import claims_of, cluster_conflicts, tenant_conflicts
from onboarding.contract.common import Tier
from onboarding.contract.signup import HybridSpec
from onboarding.errors import ActivationFailed, CidrConflict, StorageError, TransientError
from onboarding.hybrid import HybridConfig, activation_secret_name, release_activation
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


# ------------------------------------------------------------------ exactly one activation, under lost replies
class LosingSecrets(FakeSecrets):
    """Secrets Manager whose next ``lose`` puts store the secret, then raise as a lost reply does."""

    def __init__(self, lose: int = 1) -> None:
        super().__init__()
        self.lose = lose

    def put(self, name: str, value: str, tags: Any) -> str:
        arn = super().put(name, value, tags)
        if self.lose > 0:
            self.lose -= 1
            raise TransientError(f"secretsmanager:CreateSecret {name}: Read timeout on endpoint URL")
        return arn


def stored_secret(secrets: FakeSecrets, s: StepInput) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(secrets.values[activation_secret_name("onboarding/tenants", s.tenant_id)])
    return value


def test_a_lost_create_activation_reply_leaves_exactly_one_activation_the_secret_names() -> None:
    # Given SSM creates the activation but its reply is lost
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    activations.lose_create_replies = 1
    s = step()
    with pytest.raises(TransientError):
        provision(s, activations, secrets, docs)
    assert list(activations.live) == ["act-1"] and secrets.values == {}  # created, and found by its tags
    # When the state machine retries the step
    provision(s, activations, secrets, docs)
    # Then the activation whose code was lost is deleted, and the secret names the one that is left
    assert list(activations.live) == ["act-2"]
    assert stored_secret(secrets, s)["activationId"] == "act-2"
    assert stored_secret(secrets, s)["activationCode"] == "SECRET-CODE-2"


def test_a_lost_create_secret_reply_keeps_the_activation_the_secret_names() -> None:
    # Given the secret is stored but CreateSecret's reply is lost
    activations, secrets, docs = FakeActivations(), LosingSecrets(lose=1), FakeDocuments()
    s = step()
    resources = provision(s, activations, secrets, docs)
    # Then the step read the secret back and kept its activation: live, and named by the secret
    assert list(activations.live) == ["act-1"] and stored_secret(secrets, s)["activationId"] == "act-1"
    assert resources.activation_secret_arn.endswith(activation_secret_name("onboarding/tenants", s.tenant_id))


def test_a_retry_after_lost_secret_replies_reuses_the_activation_the_secret_names() -> None:
    # Given the secret is stored, and both its reply and the ARN's are lost: the step fails
    activations, secrets, docs = FakeActivations(), LosingSecrets(lose=2), FakeDocuments()
    s = step()
    with pytest.raises(TransientError):
        provision(s, activations, secrets, docs)
    # Then the activation the secret names was not deleted, and the retry reuses it
    assert list(activations.live) == ["act-1"]
    provision(s, activations, secrets, docs)
    assert list(activations.live) == ["act-1"] and stored_secret(secrets, s)["activationId"] == "act-1"
    assert activations.created == 1


def test_a_secret_naming_a_deleted_or_expired_activation_gets_a_new_live_one() -> None:
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    s = step()
    provision(s, activations, secrets, docs)
    activations.live.clear()  # deleted behind the pipeline's back
    provision(s, activations, secrets, docs)
    assert list(activations.live) == ["act-2"] and stored_secret(secrets, s)["activationId"] == "act-2"
    activations.expired.add("act-2")
    provision(s, activations, secrets, docs)
    assert list(activations.live) == ["act-3"] and stored_secret(secrets, s)["activationId"] == "act-3"


def test_an_earlier_attempts_leftover_activation_and_secret_are_replaced() -> None:
    # Given an earlier, failed attempt whose compensation did not finish left its activation and secret
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    earlier = step()
    provision(earlier, activations, secrets, docs)
    redrive = earlier.model_copy(update={"attempt": 2, "execution": f"{earlier.tenant_id}-a2"})
    # When the re-drive provisions
    provision(redrive, activations, secrets, docs)
    # Then the tenant has one activation, this execution's, and the secret names it
    ((activation_id, activation),) = activations.live.items()
    assert activation["tags"]["execution"] == redrive.execution
    assert stored_secret(secrets, redrive)["activationId"] == activation_id


def test_a_secret_that_cannot_be_read_back_after_a_lost_reply_keeps_its_activation_for_the_retry() -> None:
    class ReadFails(LosingSecrets):
        def read(self, secret_id: str) -> str | None:
            if self.values:
                raise TransientError("secretsmanager:GetSecretValue: throttled")
            return None

    activations, secrets = FakeActivations(), ReadFails(lose=1)
    with pytest.raises(TransientError):
        provision(step(), activations, secrets, FakeDocuments())
    assert list(activations.live) == ["act-1"]  # the secret may name it: left for the retry to decide


def failed_at(s: StepInput, failed_step: str, resources: Any = None, **extra: Any) -> CompensateInput:
    # GitRemoteUnavailable: CommitGitOps pushed nothing, so no GitOps repository is needed to compensate
    error = "GitRemoteUnavailable" if failed_step == "CommitGitOps" else "ActivationFailed"
    state: dict[str, Any] = {**s.wire(), "failedStep": failed_step, "error": {"Error": error}, **extra}
    if resources is not None:
        state["hybridResources"] = resources.model_dump(mode="json", by_alias=True)
    return CompensateInput.model_validate(state)


def test_compensation_deletes_every_activation_tagged_with_the_tenant() -> None:
    # Given a lost reply's activation, an earlier attempt's, and this execution's
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    store = InMemoryTenantStore()
    s = step()
    register_tenant(s, tenants=store, publisher=RecordingPublisher(), now=now)
    activations.create(name=s.tenant_id, role="r", registration_limit=1, expires=AT, tags={"tenantId": s.tenant_id})
    activations.lose_create_replies = 1
    with pytest.raises(TransientError):
        provision(s, activations, secrets, docs)
    other = step("h-2", name="Other Plant")
    provision(other, activations, secrets, docs)  # another tenant's: never touched
    # When CreateHybridActivation's failure is compensated
    result = compensate(
        failed_at(s, "CreateHybridActivation"),
        tenants=store,
        repo=None,
        hybrid=HybridCleanup(activations, secrets, docs, secret_prefix="onboarding/tenants"),
    )
    # Then every activation of the tenant is gone, the other tenant's stays
    assert result.compensated and "deleted 2 hybrid activations" in result.actions
    assert [a["name"] for a in activations.live.values()] == [other.tenant_id]
    assert store.cidrs.claims == []


def test_compensation_of_an_execution_not_owning_the_tenant_deletes_only_its_own_activations() -> None:
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    store = InMemoryTenantStore()
    owner = step()
    register_tenant(owner, tenants=store, publisher=RecordingPublisher(), now=now)
    provision(owner, activations, secrets, docs)
    stray = owner.model_copy(update={"execution": "someone-else"})
    stray_tags = {"tenantId": owner.tenant_id, "execution": "someone-else"}
    activations.create(name=owner.tenant_id, role="r", registration_limit=1, expires=AT, tags=stray_tags)
    result = compensate(
        failed_at(stray, "CreateHybridActivation"),
        tenants=store,
        repo=None,
        hybrid=HybridCleanup(activations, secrets, docs, secret_prefix="onboarding/tenants"),
    )
    assert result.compensated
    assert list(activations.live) == ["act-1"] and stored_secret(secrets, owner)["activationId"] == "act-1"
    assert store.cidrs.claims != []  # the owner's ranges are not released by a stranger


class FlakySecrets(FakeSecrets):
    throttled = False

    def delete(self, secret_id: str) -> bool:
        if self.throttled:
            raise TransientError("secretsmanager:DeleteSecret: ThrottlingException")
        return super().delete(secret_id)


class FlakyStore(InMemoryTenantStore):
    throttled = False

    def release_cidrs(self, tenant_id: str) -> bool:
        if self.throttled:
            raise TransientError("dynamodb:TransactWriteItems: Read timeout on endpoint URL")
        return super().release_cidrs(tenant_id)


@pytest.mark.parametrize("broken", ["find", "delete", "secret", "cidrs"])
def test_transient_errors_in_hybrid_compensation_raise_so_the_state_machine_retries(broken: str) -> None:
    activations, secrets, docs, store = FakeActivations(), FlakySecrets(), FakeDocuments(), FlakyStore()
    s = step()
    register_tenant(s, tenants=store, publisher=RecordingPublisher(), now=now)
    resources = provision(s, activations, secrets, docs)
    cleanup = HybridCleanup(activations, secrets, docs, secret_prefix="onboarding/tenants")
    throttled = TransientError("ThrottlingException")
    # Given one dependency of the hybrid cleanup is throttled
    if broken == "find":
        activations.fail_find = throttled
    elif broken == "delete":
        activations.fail_delete = throttled
    elif broken == "secret":
        secrets.throttled = True
    else:
        store.throttled = True
    # Then compensation raises the transient error (the state machine's Retry fires) instead of giving up
    with pytest.raises(TransientError):
        compensate(failed_at(s, "CommitGitOps", resources), tenants=store, repo=None, hybrid=cleanup)
    # And once it recovers, the retry finishes the job
    activations.fail_find = activations.fail_delete = None
    secrets.throttled = store.throttled = False
    result = compensate(failed_at(s, "CommitGitOps", resources), tenants=store, repo=None, hybrid=cleanup)
    assert result.compensated
    assert activations.live == {} and secrets.values == {} and docs.docs == {} and store.cidrs.claims == []


def test_permanent_errors_in_hybrid_compensation_are_reported_and_the_rest_is_still_undone() -> None:
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    store = InMemoryTenantStore()
    s = step()
    register_tenant(s, tenants=store, publisher=RecordingPublisher(), now=now)
    resources = provision(s, activations, secrets, docs)
    activations.fail_delete = ActivationFailed("ssm:DeleteActivation: AccessDeniedException")
    result = compensate(
        failed_at(s, "CommitGitOps", resources, registration={"created": True, "nameClaimed": True}),
        tenants=store,
        repo=None,
        hybrid=HybridCleanup(activations, secrets, docs, "onboarding/tenants"),
    )
    assert not result.compensated
    assert any(a.startswith("hybrid cleanup failed: ActivationFailed") for a in result.actions)
    assert store.cidrs.claims == [] and store.names == {}  # CIDRs and the name are released all the same


def test_offboarding_releases_every_activation_of_the_tenant_whichever_execution_made_it() -> None:
    activations, secrets, docs = FakeActivations(), FakeSecrets(), FakeDocuments()
    s = step()
    provision(s, activations, secrets, docs)
    activations.create(
        name=s.tenant_id, role="r", registration_limit=1, expires=AT, tags={"tenantId": s.tenant_id, "execution": "x"}
    )
    actions = release_activation(
        s.tenant_id, activations=activations, secrets=secrets, secret_prefix="onboarding/tenants"
    )
    assert actions == ["deleted 2 hybrid activations", "deleted the activation secret"]
    assert activations.live == {} and secrets.values == {}
    assert (
        release_activation(s.tenant_id, activations=activations, secrets=secrets, secret_prefix="onboarding/tenants")
        == []
    )
