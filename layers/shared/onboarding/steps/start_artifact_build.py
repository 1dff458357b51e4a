"""StartArtifactBuild: CodeBuild copies the release into the tenant's registry; the execution waits.

The task token is kept with the build id (never in the build's environment); BuildCallback resumes
the execution when CodeBuild reports the build's end.
"""

from __future__ import annotations

from onboarding.errors import InvalidSignup
from onboarding.payloads import StepInput
from onboarding.ports import ArtifactBuilds, PendingBuilds


def build_environment(step: StepInput) -> dict[str, str]:
    registry = step.registry
    if registry is None:
        raise InvalidSignup("StartArtifactBuild needs the tenant registry")
    release = registry.release
    return {
        "SOURCE_IMAGES": " ".join(f"{i.name}={i.repository}@{i.digest}" for i in release.images),
        "SOURCE_REGISTRY": release.registry,
        "SOURCE_REGION": release.region,
        "TARGET_REGISTRY": f"{registry.account}.dkr.ecr.{registry.region}.amazonaws.com",
        "TARGET_REGION": registry.region,
        "TARGET_PREFIX": step.tenant_id,
        "RELEASE_VERSION": release.version,
        # the tenant chart, into <tenant>/charts/tenant: the customer's cluster pulls it from its own ECR
        "SOURCE_CHARTS": f"tenant={release.registry}/charts/tenant:{release.chart_version}",
        "TENANT_ROLE_ARN": registry.role_arn,
        "EXTERNAL_ID": step.tenant_id,
    }


def start_artifact_build(
    step: StepInput, task_token: str, *, builds: ArtifactBuilds, pending: PendingBuilds, project: str
) -> str:
    build_id = builds.start(project, build_environment(step))
    pending.put(build_id, task_token, step.tenant_id, step.execution)
    return build_id
