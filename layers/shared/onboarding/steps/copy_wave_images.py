"""CopyWaveImages: a release's images copied into each remote tenant's own ECR, before its wave commits.

One CodeBuild build per remote tenant of the wave (the copy build of onboarding, with the release's changed
images and its chart), started at most ``BUILDS_PER_INVOCATION`` at a time; the build ids are kept with the
wave, so a retried invocation starts no second build for a tenant. Releases without images copy nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from onboarding.fleet import WaveInput, release_and_wave
from onboarding.ports import ArtifactBuilds, Clock, ReleaseStore, TenantStore
from onboarding.release_images import copy_environment, is_remote

BUILDS_PER_INVOCATION = 100  # StartBuild calls per invocation: well within the function's timeout
SAVE_EVERY = 20  # build ids kept with the wave this often, so a crash restarts few builds


def copy_wave_images(
    step: WaveInput,
    *,
    releases: ReleaseStore,
    tenants: TenantStore,
    builds: ArtifactBuilds,
    project: str,
    timeout_seconds: int,
    poll_seconds: int,
    now: Clock,
) -> dict[str, Any]:
    release, wave = release_and_wave(releases, step)
    if release.aborted or not release.request.images or release.release is None:
        return {"copying": 0, "toStart": 0, "waitSeconds": poll_seconds}
    changed = {spec.name for spec in release.request.images}
    images = [image for image in release.release.images if image.name in changed]
    remote = [r for t in wave.members if t not in wave.copies and (r := tenants.get(t)) is not None and is_remote(r)]
    copies = dict(wave.copies)
    for n, record in enumerate(remote[:BUILDS_PER_INVOCATION], start=1):
        environment = copy_environment(
            release.release, images, tenant_id=record.tenant_id, account=str(record.aws_account_id),
            region=str(record.region),
        )  # fmt: skip
        copies[record.tenant_id] = builds.start(project, environment)
        if n % SAVE_EVERY == 0 or n == min(len(remote), BUILDS_PER_INVOCATION):
            deadline = wave.copies_deadline or now() + timedelta(seconds=timeout_seconds)
            wave = wave.model_copy(update={"copies": dict(copies), "copies_deadline": deadline})
            releases.save_wave(step.release_id, wave)
    return {
        "copying": len(copies),
        "toStart": max(0, len(remote) - BUILDS_PER_INVOCATION),
        "waitSeconds": poll_seconds,
    }
