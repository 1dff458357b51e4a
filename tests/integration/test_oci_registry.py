"""The OCI push adapter against a real registry (Debian's docker-registry on 127.0.0.1), read back over HTTP."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from onboarding.adapters.oci import OciRegistry
from onboarding.delivery import FLUX_CONTENT_TYPE, artifact_of, digest_of
from onboarding.errors import TransientError
from onboarding_local.registry import Registry


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    running = Registry(tmp_path, "tenant-ecr").start()
    yield running
    running.stop()


def get(url: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def test_an_artifact_pushed_twice_reads_back_byte_for_byte(registry: Registry) -> None:
    host = "222222222222.dkr.ecr.eu-west-1.amazonaws.com"
    oci = OciRegistry(host, None, f"http://{registry.host}")
    artifact = artifact_of({"tenant.yaml": b"kind: Namespace\n"}, source="s", revision="r1")
    assert oci.push("t-x/manifests", artifact, "latest") == artifact.digest
    assert oci.push("t-x/manifests", artifact, "latest") == artifact.digest  # a retried push is harmless
    base = f"http://{registry.host}/v2/t-x/manifests"
    manifest = get(f"{base}/manifests/latest", "application/vnd.oci.image.manifest.v1+json")
    assert digest_of(manifest) == artifact.digest
    (layer,) = json.loads(manifest)["layers"]
    assert layer["mediaType"] == FLUX_CONTENT_TYPE
    blob = get(f"{base}/blobs/{layer['digest']}")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        assert tar.extractfile("tenant.yaml").read() == b"kind: Namespace\n"  # type: ignore[union-attr]


def test_an_unreachable_registry_is_transient(tmp_path: Path) -> None:
    oci = OciRegistry("x", None, "http://127.0.0.1:9")
    with pytest.raises(TransientError):
        oci.push("t-x/manifests", artifact_of({}, source="s", revision="r"), "latest")
