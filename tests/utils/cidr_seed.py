"""A fleet of hybrid tenants for the cell-based CIDR registry on moto: their ranges, and a seed that writes the
final items straight into moto's table (not one transaction per tenant). Transactions on a 10,000-tenant table
need the local stack's item-by-item backup (``onboarding_local.transactions.installed``): moto's own deep-copies
the table."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb import models

from onboarding.adapters.dynamodb import cidr_cells as cells_layout
from onboarding.adapters.dynamodb.cidr_cells import CELL_PREFIX, TENANT_PREFIX
from onboarding.adapters.dynamodb.codec import to_item
from onboarding.cidrs import CidrClaim


def fleet_claims(count: int) -> dict[str, list[CidrClaim]]:
    """``count`` disjoint tenants: a /24 node range in 10.0.0.0/8 and a /26 pod range in 172.16.0.0/12 each."""
    node_base, pod_base = int(IPv4Network("10.0.0.0/8").network_address), int(IPv4Network("172.16.0.0/12")[0])
    fleet = {}
    for i in range(count):
        tenant = f"t-seed-{i:05d}"
        node = IPv4Network((node_base + i * 256, 24))
        pod = IPv4Network((pod_base + i * 64, 26))
        fleet[tenant] = [
            CidrClaim(cidr=node, tenant_id=tenant, kind="node"),
            CidrClaim(cidr=pod, tenant_id=tenant, kind="pod"),
        ]
    return fleet


def seed(client: Any, table: str, fleet: dict[str, list[CidrClaim]]) -> None:
    """Write the items that claiming every tenant of ``fleet`` one by one would leave."""
    cells: dict[str, dict[str, Any]] = {}

    def cell(network: int, level: int) -> dict[str, Any]:
        key = f"{CELL_PREFIX}{cells_layout._text(network & cells_layout._mask(level), level)}"
        return cells.setdefault(key, {"scope": key})

    for claims in fleet.values():
        for claim in claims:  # what claim_updates sets and adds, without the conditions it checks
            network, prefix = int(claim.cidr.network_address), claim.cidr.prefixlen
            for level in cells_layout.ancestor_levels(claim.cidr):
                item, counter = cell(network, level), cells_layout._counter(network, level)
                item[counter] = item.get(counter, 0) + 1
            member = {"tenantId": claim.tenant_id, "kind": claim.kind, "cidr": str(claim.cidr)}
            cell(network, cells_layout.home_level(prefix))[cells_layout._member(network, prefix)] = member
    items = [to_item(item) for item in cells.values()]
    items += [
        to_item(
            {
                "scope": f"{TENANT_PREFIX}{tenant}",
                "tenantId": tenant,
                "claims": [c.model_dump(mode="json", by_alias=True) for c in claims],
            }
        )
        for tenant, claims in fleet.items()
    ]
    backend = models.dynamodb_backends[DEFAULT_ACCOUNT_ID][client.meta.region_name].get_table(table)
    for item in items:
        backend.put_item(item)
