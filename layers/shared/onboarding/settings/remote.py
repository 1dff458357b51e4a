"""Remote tenants' settings: the tenant registry's bootstrap, the copy builds, what is kept at offboarding."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from onboarding.settings import Settings


class RemoteSettings(Settings):
    provider_pipeline_role_arns: str = Field(min_length=1, description="Roles the tenant bootstrap must trust")


class EnsureRegistrySettings(RemoteSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
    artifact_build_timeout_seconds: int = Field(ge=5, le=28800)


class StartBuildSettings(Settings):
    artifact_build_project: str = Field(min_length=2)
    pending_builds_table: str = Field(min_length=3)


class BuildCallbackSettings(Settings):
    pending_builds_table: str = Field(min_length=3)


class RetentionSettings(Settings):
    remote_repository_retention: Literal["retain", "delete"]
