"""The lifecycle intake's and operations' settings."""

from __future__ import annotations

from pydantic import Field

from onboarding.settings import EventSettings, StepSettings


class LifecycleIntakeSettings(EventSettings):
    lifecycle_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")


class CompleteOperationSettings(StepSettings):
    name_release_after_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's name stays reserved")
    data_retention_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's data is kept")
