"""The tenant's GitOps manifests, built as data and serialized with PyYAML (never text templating).

Layout of the GitOps repository (one file per tenant, no shared index file):

    clusters/<cluster>/tenants.yaml   Flux Kustomization over ./tenants (seeded once, not edited here)
    tenants/<xx>/<tenantId>.yaml      everything one tenant needs, as a multi-document YAML; xx is 2 hex digits
                                      of a hash of the id (256 directories), so no git tree grows with the fleet
                                      (``GitOpsLayout.tenant_shards``, the default)
    tenants/<tenantId>.yaml           the same in the flat layout (``tenant_shards`` false: deployments from
                                      before the sharded default, until they migrate)

kustomize-controller generates the kustomization of a directory that has none (every manifest below it,
subdirectories included), so concurrent onboardings touch disjoint files and never conflict on content, and
both layouts reconcile alike, also side by side in one directory. Every write removes the tenant's file from the
other layout's path, and offboarding and compensation remove both: a flat repository that upgrades to the sharded
default migrates tenant by tenant as they are written (docs/production-path.md §2, docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from onboarding.bootstrap import tenant_alert
from onboarding.contract.common import DeploymentModel, Tier
from onboarding.errors import InvalidSignup
from onboarding.records import TenantSpec

LABEL_PREFIX = "onboarding.saas.aws"

TIER_PROFILES: dict[Tier, dict[str, Any]] = {
    Tier.BASIC: {"replicas": 1, "cpu": "250m", "memory": "256Mi", "requestsPerSecond": 50},
    Tier.PREMIUM: {"replicas": 2, "cpu": "1", "memory": "1Gi", "requestsPerSecond": 500},
    Tier.ADVANCED: {"replicas": 3, "cpu": "2", "memory": "4Gi", "requestsPerSecond": 2000},
}


NODE_LABEL = f"{LABEL_PREFIX}/tenant-id"  # on a hybrid tenant's nodes, set by nodeadm at boot
TAINT_KEY = f"{LABEL_PREFIX}/tenant"  # NoSchedule taint only this tenant's workloads tolerate
HYBRID_COMPUTE_LABEL = ("eks.amazonaws.com/compute-type", "hybrid")
FLUX_EVENT_TENANT_ANNOTATION = "event.toolkit.fluxcd.io/tenantId"


class SharedEndpoint(BaseModel):
    """A shared service every tenant's pods may reach (for example the provider's API gateway)."""

    model_config = ConfigDict(frozen=True)

    cidr: str
    port: int = Field(ge=1, le=65535)
    protocol: str = "TCP"
    description: str = ""


class GitOpsLayout(BaseModel):
    """Where tenant manifests go and which chart they use (from the deployment's configuration)."""

    model_config = ConfigDict(frozen=True)

    chart: str = "tenant"
    chart_source: str = "tenant-charts"  # HelmRepository (type oci) written by `tenant-onboarding gitops-bootstrap`
    chart_source_namespace: str = "flux-system"
    pool_namespace: str = "pool"
    tenant_domain: str = "tenants.example.com"
    interval: str = "5m"
    ingress_namespace: str = "ingress-nginx"
    dns_namespace: str = "kube-system"
    shared_endpoints: tuple[SharedEndpoint, ...] = ()
    aws_account_id: str | None = None  # the provider's account: siloed tenants' ACK resources live there
    aws_region: str | None = None
    cluster_name: str | None = None
    # tenants/<xx>/<id>.yaml instead of tenants/<id>.yaml: a GitOps write then costs the same whatever the fleet
    # (git rewrites and re-checks a 58-byte-per-tenant tree on every push of the flat layout). False keeps the flat
    # layout (template parameter GitOpsTenantShards, environment GITOPS_LAYOUT__TENANT_SHARDS)
    tenant_shards: bool = True


DEFAULT_LAYOUT = GitOpsLayout()


def tenant_shard(tenant_id: str) -> str:
    """The shard directory of a tenant: the first 2 hex digits of the SHA-1 of its id (256 directories)."""
    return hashlib.sha1(tenant_id.encode()).hexdigest()[:2]  # noqa: S324 (a spread, not a secret)


def tenant_path(tenant_id: str, layout: GitOpsLayout | None = None) -> str:
    """Where a pooled or siloed tenant's file goes in ``layout`` (None: the default layout, sharded)."""
    if (layout if layout is not None else DEFAULT_LAYOUT).tenant_shards:
        return f"tenants/{tenant_shard(tenant_id)}/{tenant_id}.yaml"
    return f"tenants/{tenant_id}.yaml"


def tenant_paths(tenant_id: str) -> list[str]:
    """Every path the pipeline may write for a tenant, in either layout: what compensation and offboarding
    remove, and what a write in one layout removes from the other."""
    return [f"tenants/{tenant_id}.yaml", remote_path(tenant_id), f"tenants/{tenant_shard(tenant_id)}/{tenant_id}.yaml"]


def remote_path(tenant_id: str) -> str:
    """A remote tenant's desired state: the provider's record; the customer's Flux reads it from its own ECR."""
    return f"remote/{tenant_id}/release.yaml"


def remote_chart_source(spec: TenantSpec) -> str:
    """The chart source of a remote tenant: its own ECR, where the artifact build copies the chart."""
    api = next(image for image in spec.images if image.name == "api") if spec.images else None
    registry = api.repository.split("/", 1)[0] if api else "registry.invalid"
    return f"oci://{registry}/{spec.tenant_id}/charts"


def _labels(spec: TenantSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "tenant-onboarding",
        f"{LABEL_PREFIX}/tenant-id": spec.tenant_id,
        f"{LABEL_PREFIX}/tier": spec.tier.value,
        f"{LABEL_PREFIX}/deployment-model": spec.deployment_model.value,
    }


def _placement(spec: TenantSpec) -> dict[str, Any]:
    """Values that pin a hybrid tenant's pods to its own nodes: node labels plus a tolerated taint."""
    return {
        "nodeSelector": {NODE_LABEL: spec.tenant_id, HYBRID_COMPUTE_LABEL[0]: HYBRID_COMPUTE_LABEL[1]},
        "tolerations": [{"key": TAINT_KEY, "operator": "Equal", "value": spec.tenant_id, "effect": "NoSchedule"}],
    }


def tenant_values(spec: TenantSpec, layout: GitOpsLayout) -> dict[str, Any]:
    """The values of the tenant chart: exactly its values.schema.json contract (a test holds them to it)."""
    if not spec.images:
        raise InvalidSignup(
            f"{spec.deployment_model.value} tenant {spec.tenant_id} is rendered from its release's images, and has none"
        )
    resources = dict(TIER_PROFILES[spec.tier])
    if spec.suspended:
        resources["replicas"] = 0  # scaled to zero; data (volumes, databases, tables) is kept
    values: dict[str, Any] = {
        "tenantId": spec.tenant_id,
        "tenantName": spec.tenant_name,
        "tier": spec.tier.value,
        "deploymentModel": spec.deployment_model.value,
        "suspended": spec.suspended,
        "host": f"{spec.tenant_id}.{layout.tenant_domain}",
        "resources": resources,
        "images": {
            image.name: {"repository": image.repository, "digest": image.digest, "image": image.reference}
            for image in spec.images
        },
    }
    if spec.release_version:
        values["release"] = spec.release_version
    network: dict[str, Any] = {
        "ingressNamespace": layout.ingress_namespace,
        "dnsNamespace": layout.dns_namespace,
        "sharedEndpoints": [endpoint.model_dump() for endpoint in layout.shared_endpoints],
        "extraEgress": [],
    }
    hybrid = spec.hybrid
    if spec.deployment_model is DeploymentModel.HYBRID:
        if hybrid is None:
            raise InvalidSignup("a hybrid tenant needs its hybrid specification")
        values.update(_placement(spec))
        resources["replicas"] = min(resources["replicas"], hybrid.node_count)
        if hybrid.supporting_services == "bundled":
            values["database"] = {"mode": "bundled", "host": "postgresql", "port": 5432}
        else:
            host, port = (hybrid.database_endpoint or ":").rsplit(":", 1)
            values["database"] = {
                "mode": "customer",
                "host": host,
                "port": int(port),
                "secretArn": hybrid.database_secret_arn,
            }
            # the customer's database lives in the customer's own network, reached from the tenant's nodes
            network["extraEgress"].append(
                {"cidrs": [str(c) for c in hybrid.node_cidrs], "port": int(port), "protocol": "TCP"}
            )
    values["network"] = network
    if spec.deployment_model is DeploymentModel.SILOED and layout.aws_account_id and layout.aws_region:
        values["aws"] = {
            "resources": True,
            "accountId": layout.aws_account_id,
            "region": layout.aws_region,
            "clusterName": layout.cluster_name or "cluster",
        }
    return values


def _helm_release(spec: TenantSpec, layout: GitOpsLayout, *, namespace: str, source: dict[str, str]) -> dict[str, Any]:
    if not spec.chart_version:
        raise InvalidSignup(f"tenant {spec.tenant_id} has no chart version: its release names none")
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {
            "name": spec.tenant_id,
            "namespace": namespace,
            "labels": _labels(spec),
            "annotations": {
                f"{LABEL_PREFIX}/tenant-name": spec.tenant_name,
                # notification-controller forwards it as metadata.tenantId: how a verdict finds its tenant
                FLUX_EVENT_TENANT_ANNOTATION: spec.tenant_id,
            },
        },
        "spec": {
            "interval": layout.interval,
            "releaseName": spec.tenant_id,
            "targetNamespace": namespace,
            "chart": {
                "spec": {
                    "chart": layout.chart,
                    "version": spec.chart_version,  # exact: one immutable, published chart version
                    "sourceRef": {"kind": "HelmRepository", **source},
                }
            },
            "install": {"remediation": {"retries": 3}},
            "upgrade": {"remediation": {"retries": 3, "remediateLastFailure": True}},
            "values": tenant_values(spec, layout),
        },
    }


# kustomize-controller never deletes an object carrying this, even when its file no longer describes it: removing
# a tenant's file (offboarding, a move to the pool) leaves its namespace and the data in it (docs/data-retention.md)
FLUX_PRUNE_DISABLED = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}


def _namespace(spec: TenantSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": spec.tenant_id, "labels": _labels(spec), "annotations": dict(FLUX_PRUNE_DISABLED)},
    }


def render_tenant(spec: TenantSpec, layout: GitOpsLayout) -> list[dict[str, Any]]:
    """The Kubernetes objects of one tenant, by deployment model: its Namespace and one HelmRelease of the chart."""
    source = {"name": layout.chart_source, "namespace": layout.chart_source_namespace}
    if spec.deployment_model is DeploymentModel.POOLED:
        return [_helm_release(spec, layout, namespace=layout.pool_namespace, source=source)]
    if spec.deployment_model in (DeploymentModel.SILOED, DeploymentModel.HYBRID):
        # notification-controller matches event sources by exact namespace: a tenant namespace needs its own Alert
        alert = tenant_alert(spec.tenant_id, layout.cluster_name or "production")
        return [_namespace(spec), _helm_release(spec, layout, namespace=spec.tenant_id, source=source), alert]
    if spec.deployment_model is DeploymentModel.REMOTE:
        # What the customer's own Flux applies: everything from the tenant's own ECR, nothing of other tenants.
        repository = {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": layout.chart_source, "namespace": spec.tenant_id, "labels": _labels(spec)},
            "spec": {"type": "oci", "provider": "aws", "interval": "10m", "url": remote_chart_source(spec)},
        }
        own = {"name": layout.chart_source, "namespace": spec.tenant_id}
        return [_namespace(spec), repository, _helm_release(spec, layout, namespace=spec.tenant_id, source=own)]
    raise InvalidSignup(f"no GitOps rendering for deployment model {spec.deployment_model.value!r}")


@cache
def _plain_dumper() -> type[Any]:
    """PyYAML's safe dumper without anchors and aliases: every manifest reads on its own.

    PyYAML is imported with the first manifest written, not with this module: a function that only reads
    tenant paths or settings' layouts does not pay its import (about 0.15x ``import boto3``) at a cold start.
    """
    import yaml

    class PlainDumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return PlainDumper


def tenant_files(spec: TenantSpec, layout: GitOpsLayout) -> dict[str, bytes]:
    import yaml

    documents = render_tenant(spec, layout)
    text = yaml.dump_all(documents, Dumper=_plain_dumper(), sort_keys=False, allow_unicode=True, explicit_start=True)
    remote = spec.deployment_model is DeploymentModel.REMOTE
    path = remote_path(spec.tenant_id) if remote else tenant_path(spec.tenant_id, layout)
    return {path: text.encode("utf-8")}
