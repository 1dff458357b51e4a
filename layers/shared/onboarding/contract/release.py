"""Fleet releases: a new tenant-chart release rolled out to every tenant in waves, gated by Flux's verdict.

Inbound from the provider's CI (source ``saas.release``): ``Fleet Release Requested``, ``Fleet Release
Approved`` and ``Fleet Release Aborted``. Outbound (source ``saas.onboarding``): the release's progress.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from onboarding.contract.common import (
    SIGNUP_ID_PATTERN,
    TENANT_ID_FIELD_PATTERN,
    ContractModel,
    DeploymentModel,
    FieldError,
    Tier,
    WireInt,
    WireStr,
)

RELEASE_ID_PATTERN = SIGNUP_ID_PATTERN
CHART_VERSION_PATTERN = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
WAVE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$"
MAX_WAVES = 31


class ReleaseImageSpec(ContractModel):
    name: WireStr = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    source_repository: WireStr = Field(min_length=3, max_length=512, description="registry/repository of the image")
    digest: WireStr = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class WaveSpec(ContractModel):
    """A wave: the tenants it selects (all selectors must match; none selects everyone left)."""

    name: WireStr = Field(pattern=WAVE_NAME_PATTERN)
    tenant_ids: list[WireStr] | None = Field(default=None, min_length=1, max_length=10000)
    tiers: list[Tier] | None = Field(default=None, min_length=1)
    deployment_models: list[DeploymentModel] | None = Field(default=None, min_length=1)
    bake_seconds: WireInt = Field(default=0, ge=0, le=86400, description="Wait after the wave succeeded.")
    approval: bool = Field(default=False, description="Wait for 'Fleet Release Approved' after this wave.")

    @model_validator(mode="after")
    def _tenant_ids(self) -> WaveSpec:
        import re

        bad = [t for t in self.tenant_ids or [] if not re.match(TENANT_ID_FIELD_PATTERN, t)]
        if bad:
            raise ValueError(f"not tenant ids: {', '.join(bad[:5])}")
        return self


class FleetReleaseRequested(ContractModel):
    """Detail of ``Fleet Release Requested``: one execution per releaseId, ever."""

    DETAIL_TYPE: ClassVar[str] = "Fleet Release Requested"

    schema_version: Literal["1"] = "1"
    release_id: WireStr = Field(pattern=RELEASE_ID_PATTERN, description="Idempotency key of the release.")
    chart_version: WireStr = Field(pattern=CHART_VERSION_PATTERN, description="The exact tenant chart version.")
    images: list[ReleaseImageSpec] | None = Field(default=None, min_length=1, max_length=32)
    waves: list[WaveSpec] | None = Field(default=None, min_length=1, max_length=MAX_WAVES)
    max_failures: WireInt = Field(default=0, ge=0, description="Failed tenants a wave tolerates before halting.")
    on_failure: Literal["rollback", "halt"] = "rollback"

    @field_validator("waves")
    @classmethod
    def _unique_waves(cls, waves: list[WaveSpec] | None) -> list[WaveSpec] | None:
        names = [w.name for w in waves or []]
        if len(names) != len(set(names)):
            raise ValueError("wave names must be unique")
        return waves


class FleetReleaseApproved(ContractModel):
    """Detail of ``Fleet Release Approved``: lets the release go on after the named wave."""

    DETAIL_TYPE: ClassVar[str] = "Fleet Release Approved"

    schema_version: Literal["1"] = "1"
    release_id: WireStr = Field(pattern=RELEASE_ID_PATTERN)
    wave: WireStr = Field(pattern=WAVE_NAME_PATTERN)


class FleetReleaseAborted(ContractModel):
    """Detail of ``Fleet Release Aborted``: the release stops after the current wave."""

    DETAIL_TYPE: ClassVar[str] = "Fleet Release Aborted"

    schema_version: Literal["1"] = "1"
    release_id: WireStr = Field(pattern=RELEASE_ID_PATTERN)


class WaveTenants(ContractModel):
    name: str
    tenants: int


class FleetReleaseStarted(ContractModel):
    DETAIL_TYPE: ClassVar[str] = "Fleet Release Started"

    schema_version: Literal["1"] = "1"
    release_id: str
    chart_version: str
    waves: list[WaveTenants]


class FleetReleaseWaveCompleted(ContractModel):
    DETAIL_TYPE: ClassVar[str] = "Fleet Release Wave Completed"

    schema_version: Literal["1"] = "1"
    release_id: str
    wave: str
    succeeded: int
    failed: int


class FleetReleaseAwaitingApproval(ContractModel):
    DETAIL_TYPE: ClassVar[str] = "Fleet Release Awaiting Approval"

    schema_version: Literal["1"] = "1"
    release_id: str
    wave: str


class FleetReleaseCompleted(ContractModel):
    DETAIL_TYPE: ClassVar[str] = "Fleet Release Completed"

    schema_version: Literal["1"] = "1"
    release_id: str
    chart_version: str
    tenants: int
    deferred: list[str] = Field(default_factory=list, description="Busy until the end: left on their version")


REASON_LIMIT = 600  # characters of a reason kept: 10,000 failed tenants still fit the release's records


class FailedTenant(ContractModel):
    tenant_id: str
    reason: str

    @field_validator("reason")
    @classmethod
    def _bounded(cls, reason: str) -> str:
        return reason if len(reason) <= REASON_LIMIT else reason[: REASON_LIMIT - 1] + "…"


class FleetReleaseHalted(ContractModel):
    DETAIL_TYPE: ClassVar[str] = "Fleet Release Halted"

    schema_version: Literal["1"] = "1"
    release_id: str
    wave: str
    failed: list[FailedTenant]
    rolled_back: list[str]


class FleetReleaseRejected(ContractModel):
    DETAIL_TYPE: ClassVar[str] = "Fleet Release Rejected"

    schema_version: Literal["1"] = "1"
    release_id: str | None = None
    errors: list[FieldError] = Field(min_length=1)


RELEASE_REQUESTS: dict[str, type[ContractModel]] = {
    model.DETAIL_TYPE: model for model in (FleetReleaseRequested, FleetReleaseApproved, FleetReleaseAborted)
}
RELEASE_OUTCOMES: dict[type[ContractModel], str] = {
    model: model.DETAIL_TYPE
    for model in (
        FleetReleaseStarted,
        FleetReleaseWaveCompleted,
        FleetReleaseAwaitingApproval,
        FleetReleaseCompleted,
        FleetReleaseHalted,
        FleetReleaseRejected,
    )
}
