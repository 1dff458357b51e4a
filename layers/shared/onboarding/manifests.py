"""The tenant's GitOps manifests, built as data and serialized with PyYAML (never text templating).

Layout of the GitOps repository (one file per tenant, no shared index file):

    clusters/<cluster>/tenants.yaml   Flux Kustomization over ./tenants (seeded once, not edited here)
    tenants/<tenantId>.yaml           everything one tenant needs, as a multi-document YAML

kustomize-controller generates the kustomization of a directory that has none, so concurrent
onboardings touch disjoint files and never conflict on content.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from onboarding.contract import DeploymentModel, Tier
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


class SharedEndpoint(BaseModel):
    """A shared service every tenant's pods may reach (for example the provider's API gateway)."""

    model_config = ConfigDict(frozen=True)

    cidr: str
    port: int = Field(ge=1, le=65535)
    protocol: str = "TCP"
    description: str = ""


class GitOpsLayout(BaseModel):
    """Where tenant manifests go and which charts they use (from the deployment's configuration)."""

    model_config = ConfigDict(frozen=True)

    chart_source: str = "saas-charts"
    chart_source_namespace: str = "flux-system"
    pooled_chart: str = "tenant-pool-entry"
    siloed_chart: str = "tenant-app"
    chart_version: str = "1.x"
    pool_namespace: str = "pool"
    tenant_domain: str = "tenants.example.com"
    interval: str = "5m"
    hybrid_chart: str = "tenant-app"
    remote_chart: str = "tenant-app"
    chart_repository_url: str = "https://charts.example.com/saas"
    database_chart: str = "tenant-postgresql"
    dns_namespace: str = "kube-system"
    shared_endpoints: tuple[SharedEndpoint, ...] = ()


def tenant_paths(tenant_id: str) -> list[str]:
    """Every path the pipeline may write for a tenant: what compensation and offboarding remove."""
    return [f"tenants/{tenant_id}.yaml", remote_path(tenant_id)]


def remote_path(tenant_id: str) -> str:
    """A remote tenant's file, under the directory the customer's own Flux watches (remote/<tenantId>)."""
    return f"remote/{tenant_id}/release.yaml"


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


def _helm_release(
    spec: TenantSpec,
    layout: GitOpsLayout,
    *,
    namespace: str,
    chart: str,
    name: str | None = None,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    tenant_id = spec.tenant_id
    resources = dict(TIER_PROFILES[spec.tier])
    if spec.suspended:
        resources["replicas"] = 0  # scaled to zero; data (volumes, databases) is kept
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {
            "name": name or tenant_id,
            "namespace": namespace,
            "labels": _labels(spec),
            "annotations": {f"{LABEL_PREFIX}/tenant-name": spec.tenant_name},
        },
        "spec": {
            "interval": layout.interval,
            "releaseName": name or tenant_id,
            "targetNamespace": namespace,
            "chart": {
                "spec": {
                    "chart": chart,
                    "version": layout.chart_version,
                    "sourceRef": {
                        "kind": "HelmRepository",
                        "name": layout.chart_source,
                        "namespace": layout.chart_source_namespace,
                    },
                }
            },
            "install": {"remediation": {"retries": 3}},
            "upgrade": {"remediation": {"retries": 3, "remediateLastFailure": True}},
            "values": values
            or {
                "tenantId": tenant_id,
                "tenantName": spec.tenant_name,
                "tier": spec.tier.value,
                "deploymentModel": spec.deployment_model.value,
                "suspended": spec.suspended,
                "host": f"{tenant_id}.{layout.tenant_domain}",
                "resources": resources,
            },
        },
    }


def _network_policies(spec: TenantSpec, layout: GitOpsLayout) -> list[dict[str, Any]]:
    """Deny by default; allow the tenant's own namespace, DNS, the shared endpoints (and its database)."""
    namespace = spec.tenant_id
    same_namespace: dict[str, Any] = {"podSelector": {}}
    egress: list[dict[str, Any]] = [
        {"to": [same_namespace]},
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": layout.dns_namespace}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
    ]
    for endpoint in layout.shared_endpoints:
        egress.append(
            {
                "to": [{"ipBlock": {"cidr": endpoint.cidr}}],
                "ports": [{"protocol": endpoint.protocol, "port": endpoint.port}],
            }
        )
    hybrid = spec.hybrid
    if hybrid is not None and hybrid.supporting_services == "customer" and hybrid.database_endpoint:
        port = int(hybrid.database_endpoint.rsplit(":", 1)[1])
        # the customer's database lives in the customer's own network, reached from the tenant's nodes
        egress.append(
            {
                "to": [{"ipBlock": {"cidr": str(c)}} for c in hybrid.node_cidrs],
                "ports": [{"protocol": "TCP", "port": port}],
            }
        )
    base = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"}
    return [
        {
            **base,
            "metadata": {"name": "default-deny", "namespace": namespace, "labels": _labels(spec)},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            **base,
            "metadata": {"name": "tenant-isolation", "namespace": namespace, "labels": _labels(spec)},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [same_namespace]}],
                "egress": egress,
            },
        },
    ]


def _render_hybrid(spec: TenantSpec, layout: GitOpsLayout) -> list[dict[str, Any]]:
    hybrid = spec.hybrid
    if hybrid is None:
        raise InvalidSignup("a hybrid tenant needs its hybrid specification")
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": spec.tenant_id, "labels": _labels(spec)},
    }
    app = _helm_release(spec, layout, namespace=spec.tenant_id, chart=layout.hybrid_chart)
    values = app["spec"]["values"]
    values.update(_placement(spec))
    values["resources"]["replicas"] = 0 if spec.suspended else min(values["resources"]["replicas"], hybrid.node_count)
    documents = [namespace, *_network_policies(spec, layout), app]
    if hybrid.supporting_services == "bundled":
        values["database"] = {"mode": "bundled", "host": f"{spec.tenant_id}-postgresql", "port": 5432}
        database_values = {
            "tenantId": spec.tenant_id,
            "persistence": {"enabled": True},
            "replicas": 0 if spec.suspended else 1,
            **_placement(spec),
        }
        documents.append(
            _helm_release(
                spec,
                layout,
                namespace=spec.tenant_id,
                chart=layout.database_chart,
                name=f"{spec.tenant_id}-postgresql",
                values=database_values,
            )
        )
    else:
        host, port = (hybrid.database_endpoint or ":").rsplit(":", 1)
        values["database"] = {
            "mode": "customer",
            "host": host,
            "port": int(port),
            "secretArn": hybrid.database_secret_arn,
        }
    return documents


def _render_remote(spec: TenantSpec, layout: GitOpsLayout) -> list[dict[str, Any]]:
    """What the customer's own Flux applies: the tenant's images from its own ECR, pinned by digest."""
    if not spec.images:
        raise InvalidSignup("a remote tenant is rendered from the images pushed to its registry")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec.tenant_id, "labels": _labels(spec)}}
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": layout.chart_source, "namespace": layout.chart_source_namespace, "labels": _labels(spec)},
        "spec": {"interval": "10m", "url": layout.chart_repository_url},
    }
    release = _helm_release(spec, layout, namespace=spec.tenant_id, chart=layout.remote_chart)
    release["spec"]["values"]["release"] = spec.release_version
    release["spec"]["values"]["images"] = {
        image.name: {
            "repository": image.repository,
            "digest": image.digest,
            "image": f"{image.repository}@{image.digest}",
        }
        for image in spec.images
    }
    return [namespace, source, release]


def render_tenant(spec: TenantSpec, layout: GitOpsLayout) -> list[dict[str, Any]]:
    """The Kubernetes objects of one tenant, by deployment model."""
    if spec.deployment_model is DeploymentModel.REMOTE:
        return _render_remote(spec, layout)
    if spec.deployment_model is DeploymentModel.HYBRID:
        return _render_hybrid(spec, layout)
    if spec.deployment_model is DeploymentModel.POOLED:
        return [_helm_release(spec, layout, namespace=layout.pool_namespace, chart=layout.pooled_chart)]
    if spec.deployment_model is DeploymentModel.SILOED:
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": spec.tenant_id, "labels": _labels(spec)},
        }
        return [namespace, _helm_release(spec, layout, namespace=spec.tenant_id, chart=layout.siloed_chart)]
    raise InvalidSignup(f"no GitOps rendering for deployment model {spec.deployment_model.value!r}")


class _PlainDumper(yaml.SafeDumper):
    """Safe dumping without anchors and aliases: every manifest reads on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def tenant_files(spec: TenantSpec, layout: GitOpsLayout) -> dict[str, bytes]:
    documents = render_tenant(spec, layout)
    text = yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, explicit_start=True)
    remote = spec.deployment_model is DeploymentModel.REMOTE
    path = remote_path(spec.tenant_id) if remote else tenant_paths(spec.tenant_id)[0]
    return {path: text.encode("utf-8")}
