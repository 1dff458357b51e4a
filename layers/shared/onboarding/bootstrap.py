"""The GitOps repository's bootstrap: what a user commits once, built as data (never text templating).

``tenant-onboarding gitops-bootstrap`` (``onboarding.cli``) writes these files; the local stack seeds its
GitOps remote with the same ones. Paths are relative to the repository root:

    clusters/<cluster>/infrastructure.yaml   Kustomization tenant-infrastructure over ./infrastructure
    clusters/<cluster>/tenants.yaml          Kustomization tenants over ./tenants, after tenant-infrastructure
    infrastructure/tenant-charts.yaml        HelmRepository tenant-charts (type oci): the tenant chart's source
    infrastructure/pool.yaml                 Namespace pool (pooled tenants' HelmReleases and pool entries)
                                             and its NetworkPolicy: ingress from the pool and the ingress controller
    infrastructure/notifications.yaml        Provider (generic-hmac) and Alert tenant-onboarding: Flux's verdicts
                                             on tenant HelmReleases and on both Kustomizations, to the receiver
    tenants/README.md                        keeps the directory; the pipeline writes tenants/<xx>/<tenantId>.yaml
    remote/README.md                         the provider's record of remote tenants; reconciled by nothing here

``clusters/<cluster>`` is the path ``flux bootstrap`` syncs (its GitRepository ``flux-system`` is the source
of both Kustomizations). No kustomization.yaml is written: kustomize-controller generates one for a
directory without it, listing every YAML file below it, which is what lets concurrent onboardings write
disjoint files under ``tenants/``. Nothing points at ``remote/``.

Every value a user passes is checked here, so that a bad one fails with the option named instead of
producing YAML that Flux would refuse or misread later (``InvalidBootstrapOption``).
"""

from __future__ import annotations

from typing import Any

from onboarding.bootstrap_options import (
    CHART_REGISTRY_PROVIDERS as CHART_REGISTRY_PROVIDERS,
)
from onboarding.bootstrap_options import (
    BootstrapOptions as BootstrapOptions,
)
from onboarding.bootstrap_options import (
    InvalidBootstrapOption as InvalidBootstrapOption,
)
from onboarding.bootstrap_options import (
    check_label,
)
from onboarding.bootstrap_options import (
    is_ecr_host as is_ecr_host,
)

FLUX_NAMESPACE = "flux-system"
GIT_SOURCE = "flux-system"  # the GitRepository `flux bootstrap` creates for the cluster's own path
INFRASTRUCTURE_KUSTOMIZATION = "tenant-infrastructure"
TENANTS_KUSTOMIZATION = "tenants"
INFRASTRUCTURE_PATH = "./infrastructure"
TENANTS_PATH = "./tenants"
CHART_SOURCE = "tenant-charts"  # the HelmRepository every tenant HelmRelease's chart.spec.sourceRef names
POOL_NAMESPACE = "pool"
POOL_LABEL = "onboarding.saas.aws/pool"
NOTIFICATION_PROVIDER = "tenant-onboarding"
NOTIFICATION_ALERT = "tenant-onboarding"
# The Secret (in flux-system) with key `token`, the receiver's HMAC token. Named here, never written here.
RECEIVER_SECRET = "tenant-onboarding-receiver"  # noqa: S105 - a Secret's name, not a secret
RECEIVER_SECRET_KEY = "token"  # noqa: S105 - the key's name in that Secret
# Tenant objects carry this annotation; Flux controllers forward it with their events, and
# notification-controller (1.5+) hands it to the receiver as metadata.tenantId (prefix stripped).
TENANT_ID_EVENT_ANNOTATION = "event.toolkit.fluxcd.io/tenantId"
# kustomize-controller never garbage-collects an object with this annotation: deleting pool.yaml (or the
# tenant-infrastructure Kustomization) must not delete the namespace holding every pooled tenant.
PRUNE_DISABLED = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}

INFRASTRUCTURE_TIMEOUT = "5m"
TENANTS_TIMEOUT = "10m"  # health checks (wait: true) of every tenant's HelmRelease


TENANTS_README = "One file per tenant, written by the onboarding pipeline. Do not edit by hand.\n"
REMOTE_README = """\
# remote/

`remote/<tenantId>/` holds the provider's record of a remote tenant's desired state: what the pipeline
delivers to the customer's own cluster, kept here so the provider knows what each remote tenant should run.

Nothing in the provider's cluster reconciles this directory: no Flux Kustomization points at it (the
cluster's Kustomizations point at `./infrastructure` and `./tenants` only), so these files are never
applied here. Keep it that way: never bootstrap Flux at the repository root (`--path=.`), which would
apply every file in the repository, this directory included.

Written by the onboarding pipeline. Do not edit by hand.
"""

_HEADER = "# Written by `tenant-onboarding gitops-bootstrap` (see its docs/production-path.md); commit it once.\n"

# ------------------------------------------------------------------ the objects


def _kustomization(name: str, path: str, options: BootstrapOptions, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
        "spec": {
            "interval": options.interval,
            "path": path,
            "prune": True,
            "wait": True,
            "sourceRef": {"kind": "GitRepository", "name": GIT_SOURCE},
            **spec,
        },
    }


def infrastructure_kustomization(options: BootstrapOptions) -> dict[str, Any]:
    """What tenants need before any of them: the chart source, the pool namespace, the notifications."""
    return _kustomization(INFRASTRUCTURE_KUSTOMIZATION, INFRASTRUCTURE_PATH, options, timeout=INFRASTRUCTURE_TIMEOUT)


def tenants_kustomization(options: BootstrapOptions) -> dict[str, Any]:
    """Every tenant file; ready when every tenant's objects (HelmReleases included) are ready."""
    return _kustomization(
        TENANTS_KUSTOMIZATION,
        TENANTS_PATH,
        options,
        timeout=TENANTS_TIMEOUT,
        dependsOn=[{"name": INFRASTRUCTURE_KUSTOMIZATION}],
    )


def chart_source(options: BootstrapOptions) -> dict[str, Any]:
    """The OCI HelmRepository the tenant HelmReleases take the versioned ``tenant`` chart from."""
    spec: dict[str, Any] = {"type": "oci", "url": options.chart_registry, "interval": options.interval}
    if options.provider == "aws":
        spec["provider"] = "aws"  # source-controller signs in to ECR with its own identity: no Secret
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": CHART_SOURCE, "namespace": FLUX_NAMESPACE},
        "spec": spec,
    }


def pool_namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": POOL_NAMESPACE,
            "labels": {POOL_LABEL: "true"},
            "annotations": dict(PRUNE_DISABLED),
        },
    }


def pool_network_policy(options: BootstrapOptions) -> dict[str, Any]:
    """The pool's pods take traffic from the pool itself and from the ingress controller only.

    NetworkPolicies add up: the shared pool's own chart may allow more (its metrics scraper, say).
    Egress is not restricted here; the pool's workloads are not this project's.
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "pool-ingress", "namespace": POOL_NAMESPACE},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {}}]},
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": options.ingress_namespace}
                            }
                        }
                    ]
                },
            ],
        },
    }


def receiver_provider(options: BootstrapOptions) -> dict[str, Any]:
    """notification-controller posts each event, signed with HMAC-SHA256 of the body, to the receiver."""
    return {
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Provider",
        "metadata": {"name": NOTIFICATION_PROVIDER, "namespace": FLUX_NAMESPACE},
        "spec": {"type": "generic-hmac", "address": options.receiver_url, "secretRef": {"name": RECEIVER_SECRET}},
    }


def _alert(name: str, sources: list[dict[str, Any]], cluster: str) -> dict[str, Any]:
    return {
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Alert",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
        "spec": {
            "providerRef": {"name": NOTIFICATION_PROVIDER},
            "eventSeverity": "info",  # successes too: InstallSucceeded and UpgradeSucceeded are the verdicts
            "eventSources": sources,
            "eventMetadata": {"cluster": cluster},  # which cluster's Flux reports
        },
    }


def receiver_alert(options: BootstrapOptions) -> dict[str, Any]:
    """Flux's verdicts the receiver consumes: pooled tenants' HelmReleases and the two Kustomizations.

    notification-controller (v1.9) matches an event source's namespace exactly: ``namespace: '*'`` is
    accepted by the CRD but matches no event. Pooled tenants' HelmReleases all live in ``pool``, so one
    source covers them. A tenant with a namespace of its own is covered by ``tenant_alert``, an Alert that
    the pipeline writes with the tenant's file; and the ``tenants`` Kustomization (``wait: true``) names
    every tenant object that fails its health check in any namespace.
    """
    sources = [
        {"kind": "HelmRelease", "name": "*", "namespace": POOL_NAMESPACE},
        {"kind": "Kustomization", "name": TENANTS_KUSTOMIZATION, "namespace": FLUX_NAMESPACE},
        {"kind": "Kustomization", "name": INFRASTRUCTURE_KUSTOMIZATION, "namespace": FLUX_NAMESPACE},
    ]
    return _alert(NOTIFICATION_ALERT, sources, options.cluster)


def tenant_alert(tenant_id: str, cluster: str) -> dict[str, Any]:
    """The Alert a tenant with its own namespace needs, for the pipeline to write in its tenant file.

    It lives in flux-system, beside the Provider it names (a providerRef cannot leave its namespace), and
    takes every HelmRelease event of the tenant's namespace. It is never pruned with the tenant's file: when the
    tenant is offboarded or moved to the pool, its HelmRelease's UninstallSucceeded must still reach the receiver.
    It stays with the tenant's kept namespace and is deleted with it (docs/data-retention.md).
    """
    check_label("tenantId", tenant_id, "a tenant id")
    check_label("--cluster", cluster, "a cluster name")
    sources = [{"kind": "HelmRelease", "name": "*", "namespace": tenant_id}]
    alert = _alert(f"{NOTIFICATION_ALERT}-{tenant_id}", sources, cluster)
    alert["metadata"]["annotations"] = dict(PRUNE_DISABLED)
    return alert


# ------------------------------------------------------------------ the files


def bootstrap_documents(options: BootstrapOptions) -> dict[str, list[dict[str, Any]]]:
    """Every YAML file of the bootstrap, as the Kubernetes objects it holds, by repository path."""
    cluster_dir = f"clusters/{options.cluster}"
    return {
        f"{cluster_dir}/infrastructure.yaml": [infrastructure_kustomization(options)],
        f"{cluster_dir}/tenants.yaml": [tenants_kustomization(options)],
        "infrastructure/tenant-charts.yaml": [chart_source(options)],
        "infrastructure/pool.yaml": [pool_namespace(), pool_network_policy(options)],
        "infrastructure/notifications.yaml": [receiver_provider(options), receiver_alert(options)],
    }


def dump_documents(documents: list[dict[str, Any]]) -> str:
    """Objects as one YAML stream (PyYAML's safe dumper), after a fixed comment line."""
    import yaml  # with the first stream written, not at a cold start (see manifests._plain_dumper)

    return _HEADER + yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)


def bootstrap_files(options: BootstrapOptions) -> dict[str, str]:
    """Every file of the bootstrap, as its text, by repository path (sorted)."""
    files = {path: dump_documents(documents) for path, documents in bootstrap_documents(options).items()}
    files["tenants/README.md"] = TENANTS_README
    files["remote/README.md"] = REMOTE_README
    return dict(sorted(files.items()))
