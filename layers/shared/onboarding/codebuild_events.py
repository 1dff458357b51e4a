"""The "CodeBuild Build State Change" event BuildCallback reads (AWS's shape, kebab-case keys)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field


class _Kebab(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class BuildPhase(_Kebab):
    phase_type: str = Field(alias="phase-type")
    phase_status: str | None = Field(default=None, alias="phase-status")
    phase_context: list[str] = Field(default_factory=list, alias="phase-context")


class ExportedVariable(_Kebab):
    name: str
    value: str


class BuildInformation(_Kebab):
    phases: list[BuildPhase] = Field(default_factory=list)
    exported_environment_variables: list[ExportedVariable] = Field(
        default_factory=list, alias="exported-environment-variables"
    )


class BuildStateChange(_Kebab):
    build_id: str = Field(alias="build-id")
    build_status: str = Field(alias="build-status")
    additional_information: BuildInformation = Field(default_factory=BuildInformation, alias="additional-information")


class BuildStateChangeEvent(EventBridgeModel):
    detail: BuildStateChange


class BuildResult(BaseModel):
    """What ``BatchGetBuilds`` says of a build: running, or done with its exports or the failed phase's reason."""

    model_config = ConfigDict(frozen=True)

    build_id: str
    status: str  # IN_PROGRESS, SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT
    exported: dict[str, str] = Field(default_factory=dict)
    cause: str | None = None

    @property
    def done(self) -> bool:
        return self.status != "IN_PROGRESS"
