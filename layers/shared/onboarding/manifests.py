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
from pydantic import BaseModel, ConfigDict

from onboarding.models import DeploymentModel, TenantSpec, Tier

LABEL_PREFIX = "onboarding.saas.aws"

TIER_PROFILES: dict[Tier, dict[str, Any]] = {
    Tier.BASIC: {"replicas": 1, "cpu": "250m", "memory": "256Mi", "requestsPerSecond": 50},
    Tier.PREMIUM: {"replicas": 2, "cpu": "1", "memory": "1Gi", "requestsPerSecond": 500},
    Tier.ADVANCED: {"replicas": 3, "cpu": "2", "memory": "4Gi", "requestsPerSecond": 2000},
}


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


def tenant_paths(tenant_id: str) -> list[str]:
    """Every path the pipeline may write for a tenant: what compensation and offboarding remove."""
    return [f"tenants/{tenant_id}.yaml"]


def _labels(spec: TenantSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "tenant-onboarding",
        f"{LABEL_PREFIX}/tenant-id": spec.tenant_id,
        f"{LABEL_PREFIX}/tier": spec.tier.value,
        f"{LABEL_PREFIX}/deployment-model": spec.deployment_model.value,
    }


def _helm_release(spec: TenantSpec, layout: GitOpsLayout, *, namespace: str, chart: str) -> dict[str, Any]:
    tenant_id = spec.tenant_id
    resources = dict(TIER_PROFILES[spec.tier])
    if spec.suspended:
        resources["replicas"] = 0  # scaled to zero; data (volumes, databases) is kept
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {
            "name": tenant_id,
            "namespace": namespace,
            "labels": _labels(spec),
            "annotations": {f"{LABEL_PREFIX}/tenant-name": spec.tenant_name},
        },
        "spec": {
            "interval": layout.interval,
            "releaseName": tenant_id,
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
            "values": {
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


def render_tenant(spec: TenantSpec, layout: GitOpsLayout) -> list[dict[str, Any]]:
    """The Kubernetes objects of one tenant, by deployment model."""
    if spec.deployment_model is DeploymentModel.POOLED:
        return [_helm_release(spec, layout, namespace=layout.pool_namespace, chart=layout.pooled_chart)]
    if spec.deployment_model is DeploymentModel.SILOED:
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": spec.tenant_id, "labels": _labels(spec)},
        }
        return [namespace, _helm_release(spec, layout, namespace=spec.tenant_id, chart=layout.siloed_chart)]
    raise ValueError(f"no GitOps rendering for deployment model {spec.deployment_model.value!r}")


def tenant_files(spec: TenantSpec, layout: GitOpsLayout) -> dict[str, bytes]:
    documents = render_tenant(spec, layout)
    text = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, explicit_start=True)
    return {tenant_paths(spec.tenant_id)[0]: text.encode("utf-8")}
