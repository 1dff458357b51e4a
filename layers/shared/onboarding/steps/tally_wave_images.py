"""TallyWaveImages: each remote tenant's copy build, judged from what CodeBuild says of it.

Until every build has ended or the deadline passed, the state machine waits and tallies again. A tenant whose
build failed, pushed other digests than the release's, or did not end in time is not moved by its wave: it
stays on its version, and counts as a failure of the wave with the build's own reason.
"""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FailedTenant
from onboarding.fleet import WaveInput, release_and_wave
from onboarding.ports import ArtifactBuilds, Clock, ReleaseStore


def _pushed(exported: dict[str, str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in exported.get("IMAGE_DIGESTS", "").split() if "=" in pair)


def tally_wave_images(
    step: WaveInput, *, releases: ReleaseStore, builds: ArtifactBuilds, now: Clock, poll_seconds: int
) -> dict[str, Any]:
    release, wave = release_and_wave(releases, step)
    if not wave.copies:
        return {"done": True, "failed": 0, "waitSeconds": poll_seconds}
    expected = {i.name: i.digest for i in (release.release.images if release.release else [])}
    changed = {spec.name for spec in release.request.images or []}
    results = builds.results(list(wave.copies.values()))
    failed: list[FailedTenant] = []
    pending: list[str] = []
    for tenant_id, build_id in wave.copies.items():
        result = results.get(build_id)
        if result is None:
            failed.append(FailedTenant(tenant_id=tenant_id, reason=f"image copy: CodeBuild knows no build {build_id}"))
        elif not result.done:
            pending.append(tenant_id)
        elif result.cause is not None:
            failed.append(FailedTenant(tenant_id=tenant_id, reason=f"image copy: {result.cause}"))
        elif any(_pushed(result.exported).get(name) != expected.get(name) for name in changed):
            wrong = ", ".join(f"{k}={v}" for k, v in sorted(_pushed(result.exported).items())) or "nothing"
            failed.append(FailedTenant(tenant_id=tenant_id, reason=f"image copy: build {build_id} pushed {wrong}, "
                                       "not the release's digests"))  # fmt: skip
    late = wave.copies_deadline is not None and now() >= wave.copies_deadline
    if pending and not late:
        return {"done": False, "pending": len(pending), "waitSeconds": poll_seconds}
    failed += [
        FailedTenant(
            tenant_id=t, reason=f"image copy: build {wave.copies[t]} did not end before {wave.copies_deadline}"
        )
        for t in pending
    ]
    releases.save_wave(step.release_id, wave.model_copy(update={"copy_failed": failed}))
    return {"done": True, "failed": len(failed), "waitSeconds": poll_seconds}
