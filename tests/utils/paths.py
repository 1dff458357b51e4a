"""Where the pipeline writes a tenant's file, in the layout the functions use (``GitOpsLayout``'s default)."""

from __future__ import annotations

from typing import Any

from onboarding.manifests import GitOpsLayout, tenant_path


def tenant_file(tenant_id: str) -> str:
    """The GitOps path of a pooled or siloed tenant's file, in the deployed (default) layout."""
    return tenant_path(tenant_id, GitOpsLayout())


def cluster_files(tenant_id: str) -> list[str]:
    """The paths a pooled or siloed tenant's file may have on the provider's cluster, in either layout (flat and
    sharded): a check that a tenant has no file looks at both."""
    return [tenant_path(tenant_id, GitOpsLayout(tenant_shards=shards)) for shards in (False, True)]


def has_no_cluster_file(git: Any, tenant_id: str) -> bool:
    """True when the GitOps branch holds the tenant's file in neither layout."""
    return all(git.read(path) is None for path in cluster_files(tenant_id))
