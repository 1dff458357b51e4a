"""A release as the pipeline reads it (SSM), at the chart version `charts/tenant` holds, and specs rendered from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from onboarding.contract.signup import SignupRequested
from onboarding.records import Release, ReleaseImage, TenantSpec

CHART = Path(__file__).resolve().parents[2] / "charts" / "tenant"
CHART_VERSION = str(yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["version"])
REMOTE_ACCOUNT, REMOTE_REGION = "444455556666", "eu-central-1"
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


def active_tenant_as(store: Any, signup_id: str, tier: str, model: str) -> str:
    """A tenant registered and made ACTIVE on RELEASE, as ActivateTenant records it."""
    from datetime import UTC, datetime

    from onboarding.identity import derive_tenant_id
    from onboarding.payloads import StepInput
    from onboarding.records import TenantStatus
    from onboarding.steps.register_tenant import register_tenant
    from tests.utils.fakes import RecordingPublisher

    tenant_id = derive_tenant_id(signup_id)
    signup = {"signupId": signup_id, "tenantName": f"Tenant {signup_id}", "adminEmail": "a@b.example", "tier": tier,
              "deploymentModel": model}  # fmt: skip
    if model == "remote":
        signup.update(awsAccountId=REMOTE_ACCOUNT, region=REMOTE_REGION)
    step = StepInput.model_validate({"tenantId": tenant_id, "attempt": 1, "execution": tenant_id, "signup": signup})
    at = datetime(2026, 11, 27, tzinfo=UTC)
    register_tenant(step, tenants=store, publisher=RecordingPublisher(), now=lambda: at)
    from onboarding.release_images import tenant_images

    record = store.records[tenant_id]
    store.records[tenant_id] = record.model_copy(
        update={
            "status": TenantStatus.ACTIVE,
            "git_commit": "c0",
            "chart_version": RELEASE.chart_version,
            "release_version": RELEASE.version,
            "images": list(tenant_images(record, RELEASE)),  # remote tenants: the copies in their own ECR
        }
    )
    return tenant_id
