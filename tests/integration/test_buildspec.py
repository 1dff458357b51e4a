"""The release-copy buildspec itself, run phase by phase against real local OCI registries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from onboarding_local.codebuild import run_buildspec
from onboarding_local.registry import OCI_INDEX, Registry, ReleaseImage, seed_release
from onboarding_local.stack import REPO_ROOT

BUILDSPEC = (REPO_ROOT / "buildspecs" / "copy-release.yml").read_text()


@pytest.fixture
def registries(tmp_path: Path) -> Iterator[tuple[Registry, Registry, list[ReleaseImage]]]:
    source, target = Registry(tmp_path, "release").start(), Registry(tmp_path, "tenant").start()
    try:
        yield source, target, seed_release(source, tmp_path, "2.1.0", ("api", "worker"))
    finally:
        source.stop()
        target.stop()


def env(target: Registry, images: list[ReleaseImage], **extra: str) -> dict[str, str]:
    return {
        "SOURCE_IMAGES": " ".join(f"{i.name}={i.repository}@{i.digest}" for i in images),
        "TARGET_REGISTRY": target.host,
        "TARGET_PREFIX": "t-acme-0123456789",
        "RELEASE_VERSION": "2.1.0",
        "REGISTRY_AUTH": "none",
        "TLS_VERIFY": "false",
        **extra,
    }


def test_the_buildspec_copies_every_image_by_digest_keeping_all_architectures(registries) -> None:  # type: ignore[no-untyped-def]
    _, target, images = registries
    outcome = run_buildspec(BUILDSPEC, env(target, images))
    assert outcome.status == "SUCCEEDED", outcome.log
    assert [p["phaseType"] for p in outcome.phases] == ["INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"]
    exported = dict(pair.split("=", 1) for pair in outcome.exported["IMAGE_DIGESTS"].split())
    assert exported == {i.name: i.digest for i in images}
    for image in images:
        repository = f"t-acme-0123456789/{image.name}"
        assert target.manifest_digest(repository, "2.1.0") == image.digest  # no rebuild: same digest
        index = target.manifest(repository, "2.1.0")
        assert index["mediaType"] == OCI_INDEX
        assert {m["platform"]["architecture"] for m in index["manifests"]} == {"amd64", "arm64"}


def test_a_missing_source_image_fails_the_build_phase_with_the_reason(registries) -> None:  # type: ignore[no-untyped-def]
    _, target, images = registries
    broken = [ReleaseImage(name="api", repository=images[0].repository, digest="sha256:" + "0" * 64)]
    outcome = run_buildspec(BUILDSPEC, env(target, broken))
    assert outcome.status == "FAILED"
    failed = [p for p in outcome.phases if p["phaseStatus"] == "FAILED"]
    assert [p["phaseType"] for p in failed] == ["BUILD"]
    assert "COMMAND_EXECUTION_ERROR" in failed[0]["contexts"][0]["message"]
    assert "IMAGE_DIGESTS" not in outcome.exported or not outcome.exported["IMAGE_DIGESTS"]
    assert target.repositories() == []


def test_an_unreachable_target_registry_fails_the_build(registries) -> None:  # type: ignore[no-untyped-def]
    _, target, images = registries
    target.stop()
    outcome = run_buildspec(BUILDSPEC, env(target, images))
    assert outcome.status == "FAILED"
    assert any(p["phaseStatus"] == "FAILED" for p in outcome.phases)


def test_a_skopeo_too_old_for_preserve_digests_fails_the_install_phase(tmp_path: Path) -> None:
    import os

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "skopeo").write_text("#!/bin/sh\necho 'skopeo version 1.4.1'\n")
    (fake / "skopeo").chmod(0o755)
    outcome = run_buildspec(BUILDSPEC, {"PATH": f"{fake}:{os.environ['PATH']}", "SOURCE_IMAGES": ""})
    assert outcome.status == "FAILED"
    assert [p["phaseType"] for p in outcome.phases if p["phaseStatus"] == "FAILED"] == ["INSTALL"]
    assert "too old" in outcome.log
