"""Where the pipeline writes a tenant's file, in the layout the functions use (``GitOpsLayout``'s default)."""

from __future__ import annotations

from onboarding.manifests import GitOpsLayout, tenant_path


def tenant_file(tenant_id: str) -> str:
    """The GitOps path of a pooled or siloed tenant's file, in the deployed (default) layout."""
    return tenant_path(tenant_id, GitOpsLayout())
