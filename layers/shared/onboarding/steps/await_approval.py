"""AwaitApproval: the release waits (task token, timeout) for ``Fleet Release Approved`` of this wave."""

from __future__ import annotations

from onboarding.contract.release import FleetReleaseAwaitingApproval
from onboarding.fleet import WaveInput
from onboarding.ports import EventPublisher, ReleaseStore


def await_approval(step: WaveInput, task_token: str, *, releases: ReleaseStore, publisher: EventPublisher) -> str:
    releases.put_approval(step.release_id, step.wave.name, task_token)
    publisher.publish([FleetReleaseAwaitingApproval(release_id=step.release_id, wave=step.wave.name)])
    return "waiting"
