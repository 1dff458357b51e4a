"""Fleet releases, the domain: waves planned from tenant records, and the state a release keeps.

A release keeps its plan and each wave's members in the ReleasesTable, never in the execution state,
so 10,000 tenants fit Step Functions' payload limits: the state machine only carries wave indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import Field

from onboarding.base import CamelModel
from onboarding.contract.common import DeploymentModel, Tier
from onboarding.contract.release import FailedTenant, FleetReleaseRequested, WaveSpec
from onboarding.errors import StorageError
from onboarding.records import Release, TenantRecord

MEMBERS_PER_CHUNK = 250  # tenants per DynamoDB item: with a bounded reason each, far below its 400 KB limit


DEFERRED_WAVE = "(deferred)"  # the last wave: tenants busy or still onboarding when their wave came


class ReleaseStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    HALTED = "HALTED"
    ABORTED = "ABORTED"


class WavePlan(CamelModel):
    index: int
    name: str
    tenants: int
    bake_seconds: int = 0
    approval: bool = False
    approval_timeout_seconds: int = 86400


class ReleaseState(CamelModel):
    release_id: str
    execution: str
    chart_version: str
    previous_chart_version: str | None = None
    release: Release | None = None  # the release parameter it wrote: its chart version and (merged) images
    previous_release: Release | None = None  # the parameter before it, put back when the release halts
    request: FleetReleaseRequested
    waves: list[WavePlan] = Field(default_factory=list)
    status: ReleaseStatus = ReleaseStatus.RUNNING
    aborted: bool = False
    announced: bool = False  # PlanRelease moved the release parameter and announced the release
    created_at: datetime


class WaveState(CamelModel):
    """What one wave did: its members, what was committed, and Flux's tally."""

    index: int
    name: str
    members: list[str] = Field(default_factory=list)
    previous: dict[str, str] = Field(default_factory=dict)  # tenant -> the chart version it ran before
    deferred: list[str] = Field(default_factory=list)  # busy with a lifecycle operation: not part of the wave
    copies: dict[str, str] = Field(default_factory=dict)  # remote tenant -> the build copying the images
    copies_starting: list[str] = Field(default_factory=list)  # StartBuild sent, its build id not kept yet
    copies_deadline: datetime | None = None
    copy_failed: list[FailedTenant] = Field(default_factory=list)  # their images never arrived: not moved
    commit: str | None = None
    committed_at: datetime | None = None
    deadline: datetime | None = None
    succeeded: list[str] = Field(default_factory=list)
    failed: list[FailedTenant] = Field(default_factory=list)
    rolled_back: list[str] = Field(default_factory=list)


def default_waves() -> list[WaveSpec]:
    """The documented default plan: one canary tenant, then basic, premium, advanced, remote and hybrid."""
    provider = [DeploymentModel.POOLED, DeploymentModel.SILOED]
    return [
        WaveSpec(name="canary", tiers=[Tier.BASIC], deployment_models=provider),  # limited to one tenant below
        WaveSpec(name="basic", tiers=[Tier.BASIC], deployment_models=provider),
        WaveSpec(name="premium", tiers=[Tier.PREMIUM], deployment_models=provider),
        WaveSpec(name="advanced", tiers=[Tier.ADVANCED], deployment_models=provider),
        WaveSpec(name="remote", deployment_models=[DeploymentModel.REMOTE]),
        WaveSpec(name="hybrid", deployment_models=[DeploymentModel.HYBRID]),
    ]


def _matches(wave: WaveSpec, tenant: TenantRecord) -> bool:
    return (
        (wave.tenant_ids is None or tenant.tenant_id in wave.tenant_ids)
        and (wave.tiers is None or tenant.tier in wave.tiers)
        and (wave.deployment_models is None or tenant.deployment_model in wave.deployment_models)
    )


def plan_waves(
    tenants: Sequence[TenantRecord], requested: list[WaveSpec] | None
) -> tuple[list[WavePlan], list[list[str]]]:
    """Each tenant in the first wave it matches (a wave without selectors takes everyone left).

    With no waves requested, the default plan applies, whose canary is the first basic tenant. Waves that
    select nobody are dropped. Returns the plans and each wave's members, in tenant-id order.
    """
    specs = requested or default_waves()
    left = sorted(tenants, key=lambda t: t.tenant_id)
    plans: list[WavePlan] = []
    members: list[list[str]] = []
    for spec in specs:
        chosen = [t for t in left if _matches(spec, t)]
        if requested is None and spec.name == "canary":
            chosen = chosen[:1]
        if not chosen:
            continue
        ids = {t.tenant_id for t in chosen}
        left = [t for t in left if t.tenant_id not in ids]
        plans.append(
            WavePlan(
                index=len(plans),
                name=spec.name,
                tenants=len(chosen),
                bake_seconds=spec.bake_seconds,
                approval=spec.approval,
            )
        )
        members.append([t.tenant_id for t in chosen])
    return plans, members


class ReleaseInput(CamelModel):
    """The execution input the release intake starts the release state machine with."""

    release_id: str
    execution: str
    request: FleetReleaseRequested


class WaveInput(CamelModel):
    """What each wave's states receive (the Map's item, with the release)."""

    release_id: str
    execution: str
    wave: WavePlan


def release_execution_name(release_id: str) -> str:
    from onboarding.identity import operation_execution_name

    return "rel" + operation_execution_name(release_id).removeprefix("op")


class _Releases(Protocol):
    def get(self, release_id: str) -> ReleaseState | None: ...

    def wave(self, release_id: str, index: int) -> WaveState: ...


def recorded(releases: _Releases, release_id: str) -> ReleaseState:
    """The release PlanRelease recorded (a release state machine step never runs before it)."""
    release = releases.get(release_id)
    if release is None:
        raise StorageError(f"release {release_id} has no record: PlanRelease did not run")
    return release


def release_and_wave(releases: _Releases, step: WaveInput) -> tuple[ReleaseState, WaveState]:
    return recorded(releases, step.release_id), releases.wave(step.release_id, step.wave.index)
