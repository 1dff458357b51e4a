"""A fleet release's images: merged into the release by name, and what each tenant runs under it.

Pooled, siloed and hybrid tenants pull the provider's images. Remote tenants run copies in their own ECR,
which the release's copy build pushes there with the same digests (``skopeo copy --preserve-digests``, each
pushed digest checked), exactly as at onboarding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from onboarding.contract.common import DeploymentModel, FieldError
from onboarding.contract.release import ReleaseImageSpec
from onboarding.fleet import ReleaseState
from onboarding.ports import ReleaseParameter
from onboarding.records import ImageRef, Release, ReleaseImage, TenantRecord
from onboarding.remote import repository_name, role_arn


def _in_registry(source: str, registry: str) -> str | None:
    """The repository relative to the provider's release registry, or None when it lies elsewhere."""
    if source.startswith(f"{registry}/"):
        return source.removeprefix(f"{registry}/") or None
    return None if "." in source.split("/", 1)[0] or ":" in source.split("/", 1)[0] else source


def merged_images(
    current: Release, requested: Sequence[ReleaseImageSpec]
) -> tuple[list[ReleaseImage], list[FieldError]]:
    """The release's images with the requested ones replaced by name; errors name each bad image's path.

    A release can only move images the release already has: a new image also needs a repository in every
    remote tenant's ECR, which only onboarding creates.
    """
    merged = {image.name: image for image in current.images}
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, spec in enumerate(requested):
        if spec.name in seen:
            errors.append(FieldError(field=f"images.{i}.name", message=f"image {spec.name} is named twice"))
        seen.add(spec.name)
        if spec.name not in merged:
            known = ", ".join(sorted(merged))
            message = f"{spec.name} is not an image of the release ({known}): a release moves existing images only"
            errors.append(FieldError(field=f"images.{i}.name", message=message))
            continue
        repository = _in_registry(spec.source_repository, current.registry)
        if repository is None:
            message = f"must be in the provider's release registry {current.registry}"
            errors.append(FieldError(field=f"images.{i}.sourceRepository", message=message))
            continue
        merged[spec.name] = ReleaseImage(name=spec.name, repository=repository, digest=spec.digest)
    return list(merged.values()), errors


def is_remote(record: TenantRecord) -> bool:
    return record.deployment_model is DeploymentModel.REMOTE and bool(record.aws_account_id and record.region)


def tenant_registry(record: TenantRecord) -> str:
    return f"{record.aws_account_id}.dkr.ecr.{record.region}.amazonaws.com"


def tenant_images(record: TenantRecord, release: Release) -> tuple[ImageRef, ...]:
    """The images the tenant runs under ``release``: the provider's, or for a remote tenant its own copies."""
    if not is_remote(record):
        return tuple(release.provider_images())
    registry = tenant_registry(record)
    return tuple(
        ImageRef(name=i.name, repository=f"{registry}/{repository_name(record.tenant_id, i.name)}", digest=i.digest)
        for i in release.images
    )


def copy_environment(
    release: Release, images: Sequence[ReleaseImage], *, tenant_id: str, account: str, region: str
) -> dict[str, str]:
    """The copy build's environment: ``images`` and the release's chart into the tenant's own ECR."""
    return {
        "SOURCE_IMAGES": " ".join(f"{i.name}={release.registry}/{i.repository}@{i.digest}" for i in images),
        "SOURCE_REGISTRY": release.registry,
        "SOURCE_REGION": release.region,
        "TARGET_REGISTRY": f"{account}.dkr.ecr.{region}.amazonaws.com",
        "TARGET_REGION": region,
        "TARGET_PREFIX": tenant_id,
        "RELEASE_VERSION": release.version,
        # the tenant chart, into <tenant>/charts/tenant: the customer's cluster pulls it from its own ECR
        "SOURCE_CHARTS": f"tenant={release.registry}/charts/tenant:{release.chart_version}",
        "TENANT_ROLE_ARN": role_arn(account, tenant_id),
        "EXTERNAL_ID": tenant_id,
    }


def release_version_of(release_id: str) -> str:
    """The release version a fleet release with images gives tenants: its releaseId, as a version can spell it."""
    cleaned = re.sub(r"[^0-9A-Za-z._-]", "-", release_id).lstrip("._-")[:128]
    return cleaned or "release"


def released_details(release: ReleaseState, release_id: str, record: TenantRecord | None) -> dict[str, Any]:
    """What a tenant's record says once a wave moved it: the chart version, the release, and its images."""
    details: dict[str, Any] = {"chartVersion": release.chart_version, "releaseId": release_id}
    if release.request.images and release.release is not None and record is not None:
        details["images"] = [image.wire() for image in tenant_images(record, release.release)]
        details["releaseVersion"] = release.release.version
    return details


def restore_parameter(parameter: ReleaseParameter, release: ReleaseState) -> None:
    """Put the release parameter back as it was before ``release``: its chart version, images and version."""
    current = parameter.read()
    if release.previous_release is not None:
        before = release.previous_release
        update = {"chart_version": before.chart_version, "images": before.images, "version": before.version}
        parameter.write(current.model_copy(update=update))
    elif release.previous_chart_version:
        parameter.write(current.model_copy(update={"chart_version": release.previous_chart_version}))
