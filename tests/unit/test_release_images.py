"""A fleet release with images: remote tenants get them copied into their own ECR (one build each) before their
wave commits; every tenant then runs them by digest, and its record says so. A copy that fails keeps its tenant
where it was, and fails the wave with the build's own reason."""

from __future__ import annotations

from typing import Any

import yaml

from onboarding.contract.release import FleetReleaseHalted
from onboarding.fleet import WavePlan
from onboarding.manifests import GitOpsLayout
from onboarding.records import ImageRef
from onboarding.release_images import release_version_of, tenant_images
from onboarding.steps.copy_wave_images import copy_wave_images
from onboarding.steps.finish_wave import finish_wave
from onboarding.steps.halt_release import halt_release
from onboarding.steps.rollback_wave import rollback_wave
from onboarding.steps.tally_wave_images import tally_wave_images
from tests.unit.test_fleet import NEW, Fleet
from tests.utils.fakes import CopyBuilds
from tests.utils.release import DIGESTS, RELEASE, REMOTE_ACCOUNT, REMOTE_REGION

API = "sha256:" + "c3" * 32
ACCOUNT, REGION = REMOTE_ACCOUNT, REMOTE_REGION
IMAGES = [{"name": "api", "sourceRepository": f"{RELEASE.registry}/saas/api", "digest": API}]


class ImageFleet(Fleet):
    def __init__(self, *tenants: tuple[str, str, str]) -> None:
        super().__init__(*tenants)
        self.builds = CopyBuilds()

    def copy(self, plan: WavePlan) -> dict[str, Any]:
        return copy_wave_images(self.wave(plan), releases=self.releases, tenants=self.tenants, builds=self.builds,
                                project="copy", timeout_seconds=600, poll_seconds=5, now=self.clock)  # fmt: skip

    def tally_copies(self, plan: WavePlan) -> dict[str, Any]:
        return tally_wave_images(self.wave(plan), releases=self.releases, builds=self.builds, now=self.clock,
                                 poll_seconds=5)  # fmt: skip

    def finish(self, plan: WavePlan) -> None:
        finish_wave(self.wave(plan), releases=self.releases, tenants=self.tenants, repo=self.repo,
                    layout=GitOpsLayout(), publisher=self.publisher, now=self.clock)  # fmt: skip

    def images_in_git(self, tenant_id: str) -> dict[str, str]:
        files = self.repo.head[1]
        path = next(p for p in files if tenant_id in p)
        release = next(d for d in yaml.safe_load_all(files[path]) if d and d["kind"] == "HelmRelease")
        return {name: image["image"] for name, image in release["spec"]["values"]["images"].items()}


def test_remote_tenants_get_the_images_copied_first_and_every_tenant_runs_them_by_digest() -> None:
    fleet = ImageFleet(("p1", "basic", "pooled"), ("r1", "basic", "remote"))
    (plan,) = fleet.plan(waves=[{"name": "all"}], images=IMAGES)
    pooled, remote = fleet.ids
    assert fleet.parameter.release.images[0].digest == API  # tenants onboarded meanwhile start on it
    assert fleet.parameter.release.version == release_version_of("rel-1")
    assert fleet.copy(plan) == {"copying": 1, "toStart": 0, "waitSeconds": 5}
    ((build_id, environment),) = fleet.builds.started.items()
    assert environment["SOURCE_IMAGES"] == f"api={RELEASE.registry}/saas/api@{API}"  # only what the release changes
    assert environment["TARGET_REGISTRY"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    assert environment["SOURCE_CHARTS"].endswith(f"charts/tenant:{NEW}")
    assert fleet.copy(plan)["copying"] == 1 and len(fleet.builds.started) == 1  # a retry starts no second build
    assert fleet.tally_copies(plan)["done"] is False
    fleet.builds.finish(build_id)
    assert fleet.tally_copies(plan)["done"] is True
    fleet.commit(plan)
    assert fleet.images_in_git(pooled) == {
        "api": f"{RELEASE.registry}/saas/api@{API}",
        "worker": f"{RELEASE.registry}/saas/worker@{DIGESTS['worker']}",
    }
    ecr = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{remote}"
    assert fleet.images_in_git(remote) == {"api": f"{ecr}/api@{API}", "worker": f"{ecr}/worker@{DIGESTS['worker']}"}
    for tenant_id in fleet.ids:
        fleet.flux(tenant_id)
    assert fleet.tally(plan)["failed"] == 0
    fleet.finish(plan)
    record = fleet.tenants.get(remote)
    assert record is not None and record.chart_version == NEW and record.release_version == release_version_of("rel-1")
    assert record.images == [ImageRef(name="api", repository=f"{ecr}/api", digest=API),
                             ImageRef(name="worker", repository=f"{ecr}/worker", digest=DIGESTS["worker"])]  # fmt: skip


def test_a_failed_copy_keeps_its_tenant_where_it_was_and_fails_the_wave_with_the_builds_reason() -> None:
    fleet = ImageFleet(("p1", "basic", "pooled"), ("r1", "basic", "remote"))
    (plan,) = fleet.plan(waves=[{"name": "all"}], images=IMAGES)
    pooled, remote = fleet.ids
    fleet.copy(plan)
    (build_id,) = fleet.builds.started
    fleet.builds.finish(build_id, cause=f"build {build_id} FAILED in BUILD: pushed sha256:0 is not {API}")
    fleet.tally_copies(plan)
    assert fleet.commit(plan)["tenants"] == 1  # only the pooled tenant moved
    assert fleet.images_in_git(remote)["api"].endswith(DIGESTS["api"]) and fleet.chart_in_git(remote) != NEW
    fleet.flux(pooled)
    verdict = fleet.tally(plan)
    assert verdict["done"] and verdict["failed"] == 1 and verdict["halt"] and verdict["rollback"]
    rollback_wave(fleet.wave(plan), releases=fleet.releases, tenants=fleet.tenants, repo=fleet.repo,
                  layout=GitOpsLayout(), artifacts_for=None, timeout_seconds=60, poll_seconds=5,
                  now=fleet.clock)  # fmt: skip
    assert fleet.images_in_git(pooled)["api"].endswith(DIGESTS["api"])  # back on the images it ran
    fleet.flux(pooled, revision=RELEASE.chart_version)
    assert fleet.tally(plan, rollback=True)["done"]
    halt_release(fleet.wave(plan), releases=fleet.releases, tenants=fleet.tenants, parameter=fleet.parameter,
                 publisher=fleet.publisher, now=fleet.clock)  # fmt: skip
    (halted,) = fleet.publisher.of(FleetReleaseHalted)
    assert [f.tenant_id for f in halted.failed] == [remote] and "image copy: build" in halted.failed[0].reason
    assert "FAILED in BUILD" in halted.failed[0].reason and halted.rolled_back == [pooled]
    assert fleet.parameter.release == RELEASE  # chart version, images and version, as they were
    for tenant_id in fleet.ids:
        record = fleet.tenants.get(tenant_id)
        assert record is not None and record.lock is None and record.chart_version == RELEASE.chart_version
        assert record.images == list(tenant_images(record, RELEASE))


def test_a_copy_that_never_ends_fails_its_tenant_at_the_deadline() -> None:
    fleet = ImageFleet(("r1", "basic", "remote"))
    (plan,) = fleet.plan(waves=[{"name": "all"}], images=IMAGES)
    fleet.copy(plan)
    fleet.clock.at += __import__("datetime").timedelta(hours=1)
    assert fleet.tally_copies(plan)["done"] is True
    (failed,) = fleet.releases.wave("rel-1", 0).copy_failed
    assert "did not end before" in failed.reason


def test_a_release_without_images_copies_nothing() -> None:
    fleet = ImageFleet(("r1", "basic", "remote"))
    (plan,) = fleet.plan(waves=[{"name": "all"}])
    assert fleet.copy(plan) == {"copying": 0, "toStart": 0, "waitSeconds": 5} and fleet.builds.started == {}
    assert fleet.tally_copies(plan)["done"] is True
