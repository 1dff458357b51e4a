"""TallyWave: Flux's verdict on every tenant of the wave, read from the verdicts the receiver recorded.

Until every tenant has its verdict or the deadline passed, the state machine waits and tallies again, reading
only the tenants still without one (each tally keeps what it judged, so a poll of a 10,000-tenant wave costs
what is still pending, not the whole wave); a tenant with no verdict by the deadline counts as failed, with
what was awaited as its reason. The same tally judges a rollback, against each tenant's previous version.
"""

from __future__ import annotations

from typing import Any

from onboarding.contract.release import FailedTenant
from onboarding.fleet import WaveInput, release_and_wave
from onboarding.ports import Clock, ReconcileStore, ReleaseStore
from onboarding.reconcile import Outcome


def tally_wave(
    step: WaveInput,
    *,
    releases: ReleaseStore,
    verdicts: ReconcileStore,
    now: Clock,
    poll_seconds: int,
    rollback: bool = False,
) -> dict[str, Any]:
    release, wave = release_and_wave(releases, step)
    judged = wave.rolled_back if rollback else wave.members
    expected = {t: (wave.previous.get(t) if rollback else release.chart_version) for t in judged}
    succeeded: list[str] = []
    failed: list[FailedTenant] = []
    if not rollback:  # a tenant judged by an earlier tally keeps its verdict: only the others are read again
        copies = {f.tenant_id for f in wave.copy_failed}
        succeeded, failed = list(wave.succeeded), [f for f in wave.failed if f.tenant_id not in copies]
        seen = set(succeeded) | {f.tenant_id for f in failed}
        judged = [t for t in judged if t not in seen]
    pending: list[str] = []
    for tenant_id in judged:
        found = verdicts.verdicts_since(tenant_id, wave.committed_at)
        verdict = next((v for v in reversed(found) if v.answers(Outcome.READY, expected[tenant_id])), None)
        if verdict is None:
            pending.append(tenant_id)
        elif verdict.outcome is Outcome.FAILED:
            failed.append(FailedTenant(tenant_id=tenant_id, reason=f"Flux {verdict.reason}: {verdict.message}"))
        else:
            succeeded.append(tenant_id)
    late = wave.deadline is not None and now() >= wave.deadline
    if pending and not late:
        if not rollback and len(pending) < len(judged):  # progress kept: the next tally reads only the pending
            releases.save_wave(step.release_id, wave.model_copy(update={"succeeded": succeeded, "failed": failed}))
        return {"done": False, "pending": len(pending), "waitSeconds": poll_seconds, "halt": False, "rollback": False}
    waited = int((wave.deadline - wave.committed_at).total_seconds()) if wave.deadline and wave.committed_at else 0
    failed += [
        FailedTenant(tenant_id=t, reason=f"Flux reported nothing for chart {expected[t]} within {waited} s")
        for t in pending
    ]
    if not rollback:  # tenants whose images never arrived were not moved, and failed all the same
        failed = [*wave.copy_failed, *failed]
        wave = wave.model_copy(update={"succeeded": succeeded, "failed": failed})
        releases.save_wave(step.release_id, wave)
    halt = len(failed) > release.request.max_failures
    return {
        "done": True,
        "waitSeconds": poll_seconds,
        "succeeded": len(succeeded),
        "failed": len(failed),
        "halt": halt and not rollback,
        "rollback": halt and release.request.on_failure == "rollback" and not rollback,
    }
