"""StartArtifactBuild: CodeBuild copies the release into the tenant's registry; the execution waits.

The task token is kept with the build id (never in the build's environment); BuildCallback resumes
the execution when CodeBuild reports the build's end.
"""

from __future__ import annotations

from onboarding.errors import InvalidSignup
from onboarding.payloads import StepInput
from onboarding.ports import ArtifactBuilds, PendingBuilds
from onboarding.release_images import copy_environment


def build_environment(step: StepInput) -> dict[str, str]:
    registry = step.registry
    if registry is None:
        raise InvalidSignup("StartArtifactBuild needs the tenant registry")
    release = registry.release
    environment = copy_environment(
        release, release.images, tenant_id=step.tenant_id, account=registry.account, region=registry.region
    )
    return {**environment, "TENANT_ROLE_ARN": registry.role_arn}


def start_artifact_build(
    step: StepInput, task_token: str, *, builds: ArtifactBuilds, pending: PendingBuilds, project: str
) -> str:
    build_id = builds.start(project, build_environment(step))
    pending.put(build_id, task_token, step.tenant_id, step.execution)
    return build_id
