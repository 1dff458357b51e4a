"""Remote tenants see only themselves: their manifests are delivered as a Flux OCI artifact to their own ECR.

The customer's Flux reads ``oci://<account>.dkr.ecr.<region>.amazonaws.com/<tenantId>/manifests:latest``
through an ``OCIRepository`` with ``provider: aws`` (its nodes can already pull from that registry), so
the customer's cluster never holds credentials to the provider's GitOps repository, and the artifact holds
nothing but that tenant's own objects. The provider's repository keeps ``remote/<tenantId>/release.yaml``
as its record of the tenant's desired state.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding.ports import ArtifactRegistry, ArtifactsFor
    from onboarding.records import TenantRecord

MANIFESTS_TAG = "latest"
FLUX_CONFIG_TYPE = "application/vnd.cncf.flux.config.v1+json"
FLUX_CONTENT_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip"
OCI_MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def manifests_repository(tenant_id: str) -> str:
    return f"{tenant_id}/manifests"


def chart_repository(tenant_id: str, chart: str = "tenant") -> str:
    return f"{tenant_id}/charts/{chart}"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A Flux OCI artifact: one gzipped tar of the manifests, a config, and the manifest naming both."""

    layer: bytes
    config: bytes
    manifest: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def _tar(files: Mapping[str, bytes]) -> bytes:
    """A reproducible tar.gz: sorted entries, fixed times and owners, so equal content has an equal digest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), mtime=0)


def artifact_of(files: Mapping[str, bytes], *, source: str, revision: str) -> Artifact:
    """The artifact of ``files`` (paths relative to the artifact root), annotated as `flux push artifact` does."""
    layer = _tar(files)
    config = b"{}"
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_TYPE,
        "config": {"mediaType": FLUX_CONFIG_TYPE, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": FLUX_CONTENT_TYPE, "digest": digest_of(layer), "size": len(layer)}],
        "annotations": {"org.opencontainers.image.source": source, "org.opencontainers.image.revision": revision},
    }
    return Artifact(layer=layer, config=config, manifest=json.dumps(manifest, sort_keys=True).encode())


def tenant_artifact_files(release_yaml: bytes) -> dict[str, bytes]:
    """The artifact's content: the tenant's own objects (the provider's record of them), nothing else."""
    return {"tenant.yaml": release_yaml}


def customer_sync(tenant_id: str, account: str, region: str, interval: str = "5m") -> str:
    """What the customer applies once in its own cluster: the OCIRepository and Kustomization of its tenant."""
    import yaml  # only the CLI prints this; the functions that import this module never load PyYAML for it

    url = f"oci://{account}.dkr.ecr.{region}.amazonaws.com/{manifests_repository(tenant_id)}"
    documents = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "OCIRepository",
            "metadata": {"name": tenant_id, "namespace": "flux-system"},
            "spec": {"interval": interval, "url": url, "provider": "aws", "ref": {"tag": MANIFESTS_TAG}},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": tenant_id, "namespace": "flux-system"},
            "spec": {
                "interval": interval,
                "sourceRef": {"kind": "OCIRepository", "name": tenant_id},
                "path": "./",
                "prune": True,
                "wait": True,
                "timeout": "10m",
            },
        },
    ]
    return yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)


def deliver(registry: ArtifactRegistry, tenant_id: str, release_yaml: bytes | None, revision: str) -> str:
    """Push the tenant's manifests (none when it is offboarded: the customer's Flux then prunes them)."""
    files = tenant_artifact_files(release_yaml) if release_yaml is not None else {}
    artifact = artifact_of(files, source=f"tenant-onboarding/{tenant_id}", revision=revision)
    return registry.push(manifests_repository(tenant_id), artifact, MANIFESTS_TAG)


def deliver_remote_tenants(
    artifacts_for: ArtifactsFor | None, records: list[TenantRecord], desired: Mapping[str, bytes | None], revision: str
) -> None:
    """After a commit touching many tenants (a fleet release wave): each remote tenant gets its new artifact."""
    if artifacts_for is None:
        return
    from onboarding.manifests import remote_path

    for record in records:
        if record.aws_account_id and record.region:
            registry = artifacts_for(record.aws_account_id, record.region, record.tenant_id)
            deliver(registry, record.tenant_id, desired.get(remote_path(record.tenant_id)), revision)
