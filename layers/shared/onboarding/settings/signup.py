"""The signup intake's settings: the onboarding state machine it starts, its idempotency, the cluster's ranges."""

from __future__ import annotations

from ipaddress import IPv4Network

from pydantic import Field

from onboarding.settings import Settings, StepSettings


class IntakeSettings(StepSettings):
    onboarding_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    idempotency_table: str = Field(min_length=3)


class ClusterSettings(Settings):
    cluster_cidrs: list[IPv4Network] = Field(description="The cluster's own VPC, pod and service ranges (JSON list)")


class SignupIntakeSettings(IntakeSettings, ClusterSettings):
    name_release_after_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's name stays reserved")
