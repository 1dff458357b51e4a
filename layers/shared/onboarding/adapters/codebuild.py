"""CodeBuild: the build that copies the release into a tenant's registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3

from onboarding.adapters.aws import translated
from onboarding.errors import ArtifactBuildFailed

if TYPE_CHECKING:
    from mypy_boto3_codebuild import CodeBuildClient


class CodeBuildArtifactBuilds:
    def __init__(self, client: CodeBuildClient | None = None) -> None:
        self._client: CodeBuildClient = client or boto3.client("codebuild")

    def start(self, project: str, environment: Mapping[str, str]) -> str:
        with translated(f"codebuild:StartBuild {project}", ArtifactBuildFailed):
            build = self._client.start_build(
                projectName=project,
                environmentVariablesOverride=[
                    {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in environment.items()
                ],
            )["build"]
        return str(build["arn"])
