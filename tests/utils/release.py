"""A release as the pipeline reads it (SSM), at the chart version `charts/tenant` holds, and specs rendered from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from onboarding.contract import SignupRequested
from onboarding.records import Release, ReleaseImage, TenantSpec

CHART = Path(__file__).resolve().parents[2] / "charts" / "tenant"
CHART_VERSION = str(yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["version"])
DIGESTS = {"api": "sha256:" + "a1" * 32, "worker": "sha256:" + "b2" * 32}

RELEASE = Release(
    version="2026.11.1",
    chart_version=CHART_VERSION,
    registry="111122223333.dkr.ecr.eu-west-1.amazonaws.com",
    region="eu-west-1",
    images=[ReleaseImage(name=name, repository=f"saas/{name}", digest=digest) for name, digest in DIGESTS.items()],
)


def spec_of(tenant_id: str, signup: SignupRequested, **update: Any) -> TenantSpec:
    """The spec the pipeline renders for this signup at RELEASE (the provider's images)."""
    spec = TenantSpec.of_signup(tenant_id, signup).model_copy(
        update={
            "images": tuple(RELEASE.provider_images()),
            "release_version": RELEASE.version,
            "chart_version": RELEASE.chart_version,
        }
    )
    return spec.model_copy(update=update) if update else spec
