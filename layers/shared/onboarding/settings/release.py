"""The fleet release state machine's settings, and its intake's."""

from __future__ import annotations

from pydantic import Field

from onboarding.settings import (
    EventSettings,
    GitOpsSettings,
    ReconcileTimeoutSettings,
    StepSettings,
    TenantStoreSettings,
)


class ReleaseSettings(StepSettings, GitOpsSettings, ReconcileTimeoutSettings):
    """Every function of the release state machine (one environment for all of them)."""

    releases_table: str = Field(min_length=3)
    reconcile_table: str = Field(min_length=3)
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
    release_poll_seconds: int = Field(ge=1, le=3600, description="How often a wave's verdicts are tallied")
    approval_timeout_seconds: int = Field(ge=5, le=31536000, description="How long an approval is waited for")


class ReleaseCopySettings(ReleaseSettings):
    """CopyWaveImages and TallyWaveImages: the copy build of onboarding, run for a release's remote tenants."""

    artifact_build_project: str = Field(min_length=2)
    artifact_build_timeout_seconds: int = Field(ge=5, le=28800)


class ReleaseIntakeSettings(EventSettings, TenantStoreSettings, GitOpsSettings):
    """GitOps and the tenants too: a release execution that ended without finishing has its tenants put back."""

    releases_table: str = Field(min_length=3)
    release_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
