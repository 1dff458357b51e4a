"""CodeBuild: the build that copies the release into a tenant's registry."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3

from onboarding.adapters.aws import translated
from onboarding.codebuild_events import BuildResult
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

    def results(self, build_ids: Sequence[str]) -> dict[str, BuildResult]:
        found: dict[str, BuildResult] = {}
        for start in range(0, len(build_ids), 100):  # BatchGetBuilds takes at most 100 ids
            batch = list(build_ids[start : start + 100])
            with translated(f"codebuild:BatchGetBuilds ({len(batch)} builds)"):
                builds = self._client.batch_get_builds(ids=batch)["builds"]
            for build in builds:
                result = _result(build)
                found[next((i for i in batch if i in (build.get("arn"), build.get("id"))), result.build_id)] = result
        return found

    def find(self, project: str, marker: str, values: Collection[str]) -> dict[str, str]:
        """Newest builds first (ListBuildsForProject, DESCENDING), at most ``FIND_PAGES`` pages of 100: a build
        started by an earlier attempt of the same step, seconds ago, is among the first."""
        wanted, found = set(values), dict[str, str]()
        token: str | None = None
        for _ in range(FIND_PAGES):
            kwargs: dict[str, Any] = {"projectName": project, "sortOrder": "DESCENDING"}
            if token:
                kwargs["nextToken"] = token
            with translated(f"codebuild:ListBuildsForProject {project}"):
                page = self._client.list_builds_for_project(**kwargs)
            ids = list(page.get("ids") or [])  # at most 100 a page: one BatchGetBuilds
            builds: list[Any] = []
            if ids:
                with translated(f"codebuild:BatchGetBuilds ({len(ids)} builds)"):
                    builds = self._client.batch_get_builds(ids=ids)["builds"]
            for build in builds:
                environment: Any = build.get("environment") or {}
                variables = environment.get("environmentVariables") or []
                value = next((v.get("value") for v in variables if v.get("name") == marker), None)
                if value in wanted and value not in found:
                    found[str(value)] = str(build.get("arn") or build.get("id"))
            token = page.get("nextToken")
            if not token or wanted <= set(found):
                break
        return found


FIND_PAGES = 5  # build ids looked through by find: 500, far more than start in a step's retry window


def _result(build: Any) -> BuildResult:
    """A build as BatchGetBuilds describes it: the failed phases' own messages are its cause."""
    status = str(build.get("buildStatus") or "IN_PROGRESS")
    exported = {v["name"]: v.get("value", "") for v in build.get("exportedEnvironmentVariables") or []}
    failed = [p for p in build.get("phases") or [] if p.get("phaseStatus") not in (None, "SUCCEEDED")]
    where = "; ".join(
        f"{p.get('phaseType')}: {' '.join(c.get('message', '') for c in p.get('contexts') or [])}".strip()
        for p in failed
    )
    build_id = str(build.get("arn") or build.get("id"))
    cause = (
        None
        if status in ("SUCCEEDED", "IN_PROGRESS")
        else f"build {build_id} {status}" + (f" in {where}" if where else "")
    )
    return BuildResult(build_id=build_id, status=status, exported=exported, cause=cause)
