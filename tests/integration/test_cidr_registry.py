"""The hybrid CIDR registry in cells (one small item per address cell), against moto with template.yaml's table."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from ipaddress import IPv4Network
from typing import Any

import boto3
import pytest

from onboarding.adapters.dynamodb import DynamoTenantStore
from onboarding.adapters.dynamodb.cidr_cells import LEGACY_SCOPE
from onboarding.adapters.dynamodb.codec import to_item
from onboarding.cidrs import CidrClaim
from onboarding.errors import CidrConflict, TransientError
from onboarding.identity import derive_tenant_id, name_key
from onboarding.payloads import StepInput
from onboarding.records import TenantRecord
from onboarding.steps.register_tenant import register_tenant
from onboarding_local import transactions
from tests.utils.cidr_seed import fleet_claims, seed
from tests.utils.fakes import RecordingPublisher
from tests.utils.moto_aws import create_template_table, mocked_aws

# the 10,000-tenant fleet is seeded once per module fixture: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("cidr_registry")

AT = datetime(2026, 11, 28, tzinfo=UTC)
TABLES = ("TenantsTable", "TenantNamesTable", "NetworkClaimsTable")


def _tables(client: Any) -> None:
    for logical in TABLES:
        create_template_table(client, logical)


@contextmanager
def registry(region: str) -> Iterator[tuple[Any, DynamoTenantStore]]:
    """Tables in ``region`` (the module's seeded fleet lives in another region than each test's own tables)."""
    with mocked_aws("us-east-1"), transactions.installed():
        dynamodb = boto3.client("dynamodb", region_name=region)
        _tables(dynamodb)
        try:
            yield (
                dynamodb,
                DynamoTenantStore(
                    "TenantsTable", "TenantNamesTable", client=dynamodb, network_table="NetworkClaimsTable"
                ),
            )
        finally:  # a nested mock_aws (the module's is still open) keeps its state: leave none behind
            for table in TABLES:
                dynamodb.delete_table(TableName=table)


@pytest.fixture
def client() -> Iterator[Any]:
    with registry("eu-west-1") as (dynamodb, _):
        yield dynamodb


@pytest.fixture
def store(client: Any) -> DynamoTenantStore:
    return DynamoTenantStore("TenantsTable", "TenantNamesTable", client=client, network_table="NetworkClaimsTable")


@pytest.fixture(scope="module")
def fleet() -> dict[str, list[CidrClaim]]:
    return fleet_claims(10_000)


@pytest.fixture(scope="module")
def seeded(fleet: dict[str, list[CidrClaim]]) -> Iterator[DynamoTenantStore]:
    """10,000 hybrid tenants registered, seeded once for the module (each test leaves them as it found them)."""
    with registry("us-east-1") as (dynamodb, store):
        seed(dynamodb, "NetworkClaimsTable", fleet)
        yield store


def record(tenant_id: str) -> TenantRecord:
    return TenantRecord.model_validate(
        {
            "tenantId": tenant_id,
            "signupId": tenant_id,
            "tenantName": f"Plant {tenant_id}",
            "nameKey": name_key(f"Plant {tenant_id}"),
            "adminEmail": "a@b.example",
            "tier": "advanced",
            "deploymentModel": "pooled",
            "status": "ONBOARDING",
            "execution": tenant_id,
            "createdAt": AT,
            "updatedAt": AT,
            "history": [{"at": AT, "operation": "onboard", "execution": tenant_id, "outcome": "ONBOARDING"}],
        }
    )


def claims(tenant_id: str, *cidrs: str) -> list[CidrClaim]:
    return [CidrClaim(cidr=IPv4Network(c), tenant_id=tenant_id, kind="node") for c in cidrs]


def signup(signup_id: str, node: str, pod: str) -> StepInput:
    tenant_id = derive_tenant_id(signup_id)
    hybrid = {"nodeCidrs": [node], "podCidrs": [pod], "nodeCount": 1, "supportingServices": "bundled"}
    detail = {
        "signupId": signup_id,
        "tenantName": f"Plant {signup_id}",
        "adminEmail": "a@b.example",
        "tier": "advanced",
        "deploymentModel": "hybrid",
        "hybrid": hybrid,
    }
    return StepInput.model_validate({"tenantId": tenant_id, "attempt": 1, "execution": tenant_id, "signup": detail})


def held(store: DynamoTenantStore, tenant_id: str) -> set[str]:
    return {str(c.cidr) for c in store.claims_held(tenant_id)}


# Pairs of overlapping ranges across the cell levels: equal, a supernet homed above, one homed in the same cell.
RACES = [
    ("10.200.7.0/24", "10.200.7.0/24"),
    ("10.200.0.0/16", "10.200.7.128/25"),
    ("10.200.7.128/25", "10.200.0.0/16"),
    ("10.128.0.0/9", "10.200.7.7/32"),
    ("10.200.7.0/26", "10.200.7.0/25"),
    ("100.64.0.0/10", "100.100.0.0/14"),
]


@pytest.mark.parametrize(("a", "b"), RACES)
def test_of_two_concurrent_overlapping_claims_exactly_one_wins_with_10000_registered(
    seeded: DynamoTenantStore, a: str, b: str
) -> None:
    # Given 10,000 hybrid tenants registered, and two signups whose ranges overlap each other (no one else's)
    store = seeded
    first, second = claims("t-race-a", a), claims("t-race-b", b)
    # When both pass the check before either writes (DynamoDB serializes the two transactions; moto runs them
    # one after the other, so each order is its own case)
    for winner, loser in ((first, second), (second, first)):
        assert store.cidr_overlaps(first) == [] and store.cidr_overlaps(second) == []
        assert store.register(record(winner[0].tenant_id), redrive_of=None, cidrs=winner) is True
        # Then the later write is refused as a whole, and its re-check finds the winner's range
        with pytest.raises(TransientError, match="changed concurrently"):
            store.register(record(loser[0].tenant_id), redrive_of=None, cidrs=loser)
        assert store.get(loser[0].tenant_id) is None and held(store, loser[0].tenant_id) == set()
        assert [(c.tenant_id, str(c.cidr)) for c in store.cidr_overlaps(loser)] == [
            (winner[0].tenant_id, str(winner[0].cidr))
        ]
        # (reset for the other order: the winner's record, name and ranges go)
        assert store.release_cidrs(winner[0].tenant_id)
        tenant = record(winner[0].tenant_id)
        store._client.delete_item(TableName="TenantsTable", Key={"tenantId": {"S": tenant.tenant_id}})
        store._client.delete_item(TableName="TenantNamesTable", Key={"nameKey": {"S": tenant.name_key}})


def test_a_signup_overlapping_one_of_10000_tenants_is_refused_naming_the_range(
    seeded: DynamoTenantStore, fleet: dict[str, list[CidrClaim]]
) -> None:
    store = seeded
    taken = str(fleet["t-seed-04321"][0].cidr)  # 10.16.225.0/24
    with pytest.raises(CidrConflict) as refused:
        register_tenant(
            signup("late", "10.16.0.0/16", "100.64.0.0/16"),
            tenants=store,
            publisher=RecordingPublisher(),
            now=lambda: AT,
        )
    assert f"node range 10.16.0.0/16 overlaps {taken} of another tenant" in str(refused.value)
    # a free one registers beside them
    register_tenant(
        signup("free", "10.250.0.0/16", "100.64.0.0/16"), tenants=store, publisher=RecordingPublisher(), now=lambda: AT
    )
    assert held(store, derive_tenant_id("free")) == {"10.250.0.0/16", "100.64.0.0/16"}
    assert store.release_cidrs(derive_tenant_id("free"))


def test_claims_agree_with_a_plain_overlap_check_across_every_cell_level(store: DynamoTenantStore) -> None:
    # Given a few hundred random ranges of every prefix length from /8 to /32, claimed in turn
    rng, registered = random.Random(13), list[CidrClaim]()
    for i in range(200):
        prefix = rng.choice([8, 9, 10, 11, 12, 13, 15, 16, 17, 19, 20, 22, 24, 25, 27, 28, 29, 30, 31, 32])
        base = rng.choice(["10.0.0.0/8", "100.64.0.0/10"])
        net = IPv4Network(base)
        if prefix < net.prefixlen:
            continue
        offset = rng.randrange(0, 2 ** (32 - net.prefixlen)) >> (32 - prefix) << (32 - prefix)
        cidr = IPv4Network((int(net.network_address) + offset, prefix))
        mine = claims(f"t-r-{i}", str(cidr))
        expected = [c for c in registered if c.cidr.overlaps(cidr)]
        # Then the registry finds exactly the overlapping ones
        assert {str(c.cidr) for c in store.cidr_overlaps(mine)} == {str(c.cidr) for c in expected}, cidr
        # And its conditional write alone refuses an overlapping claim, and takes a free one
        if expected:
            with pytest.raises(TransientError):
                store.register(record(f"t-r-{i}"), redrive_of=None, cidrs=mine)
        else:
            assert store.register(record(f"t-r-{i}"), redrive_of=None, cidrs=mine)
            registered += mine
    assert len(registered) > 10


def test_release_frees_the_ranges_for_another_tenant(store: DynamoTenantStore) -> None:
    store.register(record("t-a"), redrive_of=None, cidrs=claims("t-a", "10.1.0.0/16", "10.2.3.0/24"))
    assert store.cidr_overlaps(claims("t-b", "10.1.2.0/24")) != []
    assert store.release_cidrs("t-a") is True
    assert store.release_cidrs("t-a") is False  # nothing left: idempotent
    assert store.cidr_overlaps(claims("t-b", "10.0.0.0/8")) == []
    assert store.register(record("t-b"), redrive_of=None, cidrs=claims("t-b", "10.0.0.0/8"))


def test_the_legacy_single_item_blocks_claims_until_migrated_then_its_claims_hold(
    client: Any, store: DynamoTenantStore
) -> None:
    # Given a deployed stack's single registry item
    legacy = [
        {"cidr": "192.168.10.0/24", "tenantId": "t-old-1", "kind": "node"},
        {"cidr": "192.168.128.0/20", "tenantId": "t-old-1", "kind": "pod"},
        {"cidr": "10.20.0.0/24", "tenantId": "t-old-2", "kind": "node"},
    ]
    client.put_item(
        TableName="NetworkClaimsTable", Item=to_item({"scope": LEGACY_SCOPE, "version": 3, "claims": legacy})
    )
    # Then no claim lands before the migration (the state machine retries a TransientError)
    with pytest.raises(TransientError, match="legacy"):
        store.register(record("t-new"), redrive_of=None, cidrs=claims("t-new", "10.30.0.0/24"))
    # When it is migrated (twice: the second run has nothing left to do)
    assert store.migrate_legacy_cidrs() == 2
    assert store.migrate_legacy_cidrs() == 0
    # Then the old claims are in cells, refuse overlaps, and release as any other
    assert held(store, "t-old-1") == {"192.168.10.0/24", "192.168.128.0/20"}
    assert [c.tenant_id for c in store.cidr_overlaps(claims("t-new", "192.168.128.0/24"))] == ["t-old-1"]
    assert store.register(record("t-new"), redrive_of=None, cidrs=claims("t-new", "10.30.0.0/24"))
    assert store.release_cidrs("t-old-2") and store.cidr_overlaps(claims("t-x", "10.20.0.0/16")) == []
