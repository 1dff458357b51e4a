"""CopyWaveImages: a release's images copied into each remote tenant's own ECR, before its wave commits.

One CodeBuild build per remote tenant of the wave (the copy build of onboarding, with the release's changed
images and its chart), started at most ``BUILDS_PER_INVOCATION`` at a time. Which tenants' builds are about to
start is kept with the wave before the first StartBuild, and each build carries its execution, wave and tenant
in its environment (``RELEASE_COPY``); the build ids are kept with the wave after. A retried invocation (a lost
StartBuild reply, a crash before the ids were kept) finds the builds its earlier attempt started by that key and
starts none twice: exactly one copy per tenant is tracked and judged. Releases without images copy nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from onboarding.fleet import WaveInput, release_and_wave
from onboarding.ports import ArtifactBuilds, Clock, ReleaseStore, TenantStore
from onboarding.release_images import copy_environment, is_remote

BUILDS_PER_INVOCATION = 100  # StartBuild calls per invocation: well within the function's timeout
SAVE_EVERY = 20  # build ids kept with the wave this often (a crash's are found by their key, not restarted)
COPY_MARKER = "RELEASE_COPY"  # the copy build's environment names its execution, wave and tenant


def copy_key(execution: str, wave: int, tenant_id: str) -> str:
    return f"{execution}/{wave}/{tenant_id}"


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
    copies = dict(wave.copies)
    key = {t: copy_key(step.execution, wave.index, t) for t in wave.copies_starting if t not in copies}
    if key:  # an earlier invocation sent these StartBuilds and kept no id (a lost reply, a crash): find them
        found = builds.find(project, COPY_MARKER, list(key.values()))
        copies.update({t: found[k] for t, k in key.items() if k in found})
    remote = [r for t in wave.members if t not in copies and (r := tenants.get(t)) is not None and is_remote(r)]
    batch = remote[:BUILDS_PER_INVOCATION]
    if batch or copies != wave.copies:
        # what is about to start is kept first: a retry looks for these builds before starting any again
        deadline = wave.copies_deadline or now() + timedelta(seconds=timeout_seconds)
        starting = [r.tenant_id for r in batch]
        update = {"copies": dict(copies), "copies_starting": starting, "copies_deadline": deadline}
        wave = wave.model_copy(update=update)
        releases.save_wave(step.release_id, wave)
    for n, record in enumerate(batch, start=1):
        environment = copy_environment(
            release.release, images, tenant_id=record.tenant_id, account=str(record.aws_account_id),
            region=str(record.region),
        )  # fmt: skip
        environment[COPY_MARKER] = copy_key(step.execution, wave.index, record.tenant_id)
        copies[record.tenant_id] = builds.start(project, environment)
        if n % SAVE_EVERY == 0 or n == len(batch):
            starting = [t for t in wave.copies_starting if t not in copies]
            wave = wave.model_copy(update={"copies": dict(copies), "copies_starting": starting})
            releases.save_wave(step.release_id, wave)
    return {
        "copying": len(copies),
        "toStart": max(0, len(remote) - BUILDS_PER_INVOCATION),
        "waitSeconds": poll_seconds,
    }
