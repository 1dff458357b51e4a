"""Network ranges of hybrid tenants: overlap checks against the cluster and every other tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Network

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from onboarding.contract.common import FieldError
from onboarding.contract.signup import HybridSpec


class CidrClaim(BaseModel):
    """One range a tenant holds in the shared registry (node or pod range)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    cidr: IPv4Network
    tenant_id: str
    kind: str  # "node" | "pod"


class CidrRegistry(BaseModel):
    """A set of claims with a version: the single registry item deployed stacks had before the cells of
    ``adapters/dynamodb/cidr_cells`` (read once, by its migration), and the in-memory test double."""

    model_config = ConfigDict(frozen=True)

    version: int
    claims: list[CidrClaim]


def claims_of(tenant_id: str, spec: HybridSpec) -> list[CidrClaim]:
    return [CidrClaim(cidr=c, tenant_id=tenant_id, kind="node") for c in spec.node_cidrs] + [
        CidrClaim(cidr=c, tenant_id=tenant_id, kind="pod") for c in spec.pod_cidrs
    ]


def cluster_conflicts(spec: HybridSpec, cluster_cidrs: Sequence[IPv4Network]) -> list[FieldError]:
    """Every range of the signup that overlaps the cluster's own ranges, named by its field."""
    errors = []
    for field, cidrs in (("hybrid.nodeCidrs", spec.node_cidrs), ("hybrid.podCidrs", spec.pod_cidrs)):
        for i, cidr in enumerate(cidrs):
            for cluster in cluster_cidrs:
                if cidr.overlaps(cluster):
                    errors.append(
                        FieldError(field=f"{field}.{i}", message=f"{cidr} overlaps the cluster range {cluster}")
                    )
    return errors


def tenant_conflicts(mine: Iterable[CidrClaim], registry: Iterable[CidrClaim]) -> list[str]:
    """Every overlap between this tenant's ranges and another tenant's."""
    problems = []
    others = list(registry)
    for claim in mine:
        for other in others:
            if other.tenant_id != claim.tenant_id and claim.cidr.overlaps(other.cidr):
                problems.append(f"{claim.kind} range {claim.cidr} overlaps {other.cidr} of another tenant")
    return problems
