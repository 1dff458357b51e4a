"""The step payloads: what the state machines pass between states (execution input and results)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from onboarding.base import CamelModel
from onboarding.contract.signup import SignupRequested
from onboarding.records import HybridResources, ImageRef, Release, TenantSpec, TenantStatus


class StepModel(CamelModel):
    model_config = ConfigDict(extra="ignore")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class OnboardingRequest(StepModel):
    """The execution input the intake starts the onboarding state machine with."""

    tenant_id: str
    attempt: int = Field(ge=1)
    execution: str = Field(description="The execution's own name, so every step can condition on it.")
    signup: SignupRequested
    requested_at: datetime | None = Field(default=None, description="When the intake started it (for durations).")


class RegistryRepository(StepModel):
    name: str
    uri: str
    created: bool


class TenantRegistry(StepModel):
    """EnsureTenantRegistry's result: the tenant's repositories and the release to copy into them."""

    role_arn: str
    account: str
    region: str
    repositories: list[RegistryRepository]
    release: Release
    build_timeout_seconds: int


class Artifacts(StepModel):
    """What the artifact build pushed: each image's digest in the tenant's registry."""

    digests: dict[str, str]
    build_id: str


class StepInput(OnboardingRequest):
    """What every onboarding step receives: the execution state (extra keys ignored)."""

    registry: TenantRegistry | None = None
    artifacts: Artifacts | None = None

    @property
    def images(self) -> list[ImageRef] | None:
        """The pushed images, pinned by digest to their repositories in the tenant's registry."""
        if self.artifacts is None or self.registry is None:
            return None
        uris = {repo.name.rsplit("/", 1)[-1]: repo.uri for repo in self.registry.repositories}
        return [
            ImageRef(name=name, repository=uris[name], digest=digest)
            for name, digest in sorted(self.artifacts.digests.items())
        ]

    def spec(self, release: Release) -> TenantSpec:
        """What the tenant is rendered from: its signup, at the release's chart version and images.

        Remote tenants run the images pushed to their own registry; the others the provider's.
        """
        images = self.images if self.images is not None else release.provider_images()
        return TenantSpec.of_signup(self.tenant_id, self.signup).model_copy(
            update={"images": tuple(images), "release_version": release.version, "chart_version": release.chart_version}
        )


class Registration(StepModel):
    created: bool
    name_claimed: bool
    previous_status: TenantStatus | None = None


class GitOpsChange(StepModel):
    commit: str
    changed: bool
    paths: list[str]
    committed_at: datetime | None = None  # when the change was pushed; Flux's verdict comes after it
    reconcile_timeout_seconds: int = 0  # how long the wait for Flux's verdict on it may take


class ReconcileResult(StepModel):
    """Flux's verdict, as AwaitReconcile resumes the execution with (no reconciledAt: not verified)."""

    reconciled_at: datetime | None = None
    reason: str
    revision: str | None = None


class TenantCommit(GitOpsChange):
    """CommitGitOps's result: the change, and what it pinned (recorded on the tenant at activation)."""

    chart_version: str
    release_version: str
    images: list[ImageRef]


class ActivateInput(StepInput):
    gitops: TenantCommit
    reconcile: ReconcileResult | None = None
    hybrid_resources: HybridResources | None = None


class StepError(StepModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")

    @field_validator("cause", mode="before")
    @classmethod
    def _no_cause(cls, value: object) -> object:
        return "" if value is None else value  # Step Functions may report a null Cause


class CompensateInput(StepInput):
    failed_step: str
    error: StepError
    registration: Registration | None = None
    hybrid_resources: HybridResources | None = None
    gitops: GitOpsChange | None = None


class Compensation(StepModel):
    compensated: bool
    actions: list[str]


class RecordFailureInput(StepInput):
    failed_step: str
    error: StepError
    gitops: TenantCommit | None = None
    compensation: Compensation | None = None
    compensation_error: StepError | None = None  # compensation itself failed, after its retries
