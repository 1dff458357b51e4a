"""The tenant record (DynamoDB) and what it holds: history, lock, images, the release, hybrid resources."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from onboarding.base import CamelModel
from onboarding.contract.common import DeploymentModel, Tier
from onboarding.contract.signup import HybridSpec, SignupRequested
from onboarding.identity import name_key


class TenantStatus(StrEnum):
    ONBOARDING = "ONBOARDING"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    SUSPENDED = "SUSPENDED"
    OFFBOARDED = "OFFBOARDED"


class OperationLock(CamelModel):
    """The per-tenant lock a lifecycle operation holds while it runs."""

    operation: str
    operation_id: str
    execution: str
    at: datetime
    expires_at: datetime | None = Field(
        default=None, description="A lease: past it, a new operation may take the lock over (a stopped execution)"
    )


class TenantSpec(CamelModel):
    """What the GitOps configuration of a tenant is rendered from."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    tenant_name: str
    tier: Tier
    deployment_model: DeploymentModel
    suspended: bool = False
    hybrid: HybridSpec | None = None
    images: tuple[ImageRef, ...] = ()
    release_version: str | None = None
    chart_version: str | None = None

    @classmethod
    def of_signup(cls, tenant_id: str, signup: SignupRequested) -> TenantSpec:
        return cls(
            tenant_id=tenant_id,
            tenant_name=signup.tenant_name,
            tier=signup.tier,
            deployment_model=signup.model,
            hybrid=signup.hybrid,
        )


class ImageRef(CamelModel):
    """An image in a tenant's registry, pinned by digest."""

    model_config = ConfigDict(frozen=True)

    name: str
    repository: str  # <account>.dkr.ecr.<region>.amazonaws.com/<tenantId>/<name>
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    @property
    def reference(self) -> str:
        """The pull reference, pinned by digest."""
        return f"{self.repository}@{self.digest}"


class ReleaseImage(CamelModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    repository: str = Field(min_length=3)  # in the provider's release registry
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


SEMVER_EXACT = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"


class Release(CamelModel):
    """The release tenants get: configuration (an SSM parameter), not code.

    ``chartVersion`` is the exact tenant-chart version every HelmRelease pins; ``images`` are the
    provider's images by digest (remote tenants get them copied into their own ECR).
    """

    model_config = ConfigDict(frozen=True)

    version: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$")
    chart_version: str = Field(pattern=SEMVER_EXACT, description="exact tenant chart version, never a range")
    registry: str = Field(min_length=3)
    region: str
    images: list[ReleaseImage] = Field(min_length=1)

    def provider_images(self) -> list[ImageRef]:
        """The images in the provider's registry, pinned by digest (pooled, siloed and hybrid tenants)."""
        return [
            ImageRef(name=image.name, repository=f"{self.registry}/{image.repository}", digest=image.digest)
            for image in self.images
        ]


class HybridResources(CamelModel):
    """What CreateHybridActivation made. The activation id and code live only in the secret."""

    model_config = ConfigDict(frozen=True)

    activation_secret_arn: str
    handover_uri: str


class HistoryEntry(CamelModel):
    at: datetime
    operation: str
    execution: str
    outcome: str
    detail: str | None = None


class TenantRecord(CamelModel):
    tenant_id: str
    signup_id: str
    tenant_name: str
    name_key: str
    admin_email: str
    tier: Tier
    deployment_model: DeploymentModel
    status: TenantStatus
    execution: str
    attempts: int = 1
    version: int = 1
    failed_step: str | None = None
    failure_reason: str | None = None
    git_commit: str | None = None
    hybrid: HybridSpec | None = None
    hybrid_resources: HybridResources | None = None
    aws_account_id: str | None = None
    region: str | None = None
    images: list[ImageRef] | None = None
    release_version: str | None = None
    chart_version: str | None = None
    reconciled_at: datetime | None = None  # when Flux last reported the tenant's HelmRelease ready
    lock: OperationLock | None = None
    offboarded_at: datetime | None = None
    data_retained_until: datetime | None = None  # offboarded: when the tenant's retained data is deleted
    history: list[HistoryEntry] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of_signup(
        cls,
        tenant_id: str,
        signup: SignupRequested,
        *,
        status: TenantStatus,
        execution: str,
        attempt: int,
        at: datetime,
        history: list[HistoryEntry],
        version: int = 1,
        created_at: datetime | None = None,
        failed_step: str | None = None,
        failure_reason: str | None = None,
    ) -> TenantRecord:
        """The record of a tenant made from its signup: the one place a record is built."""
        return cls(
            tenant_id=tenant_id,
            signup_id=signup.signup_id,
            tenant_name=signup.tenant_name,
            name_key=name_key(signup.tenant_name),
            admin_email=signup.admin_email,
            tier=signup.tier,
            deployment_model=signup.model,
            hybrid=signup.hybrid,
            aws_account_id=signup.aws_account_id,
            region=signup.region,
            status=status,
            execution=execution,
            attempts=attempt,
            version=version,
            failed_step=failed_step,
            failure_reason=failure_reason,
            history=history,
            created_at=created_at or at,
            updated_at=at,
        )

    @property
    def spec(self) -> TenantSpec:
        return TenantSpec(
            tenant_id=self.tenant_id,
            tenant_name=self.tenant_name,
            tier=self.tier,
            deployment_model=self.deployment_model,
            suspended=self.status is TenantStatus.SUSPENDED,
            hybrid=self.hybrid,
            images=tuple(self.images or ()),
            release_version=self.release_version,
            chart_version=self.chart_version,
        )

    def item(self) -> dict[str, Any]:
        return self.wire()
