"""Real OCI registries on 127.0.0.1 (Debian's docker-registry), and small multi-arch images built offline.

One registry stands in for the provider's release registry, another for tenants' ECR. ECR hosts
(``<account>.dkr.ecr.<region>.amazonaws.com``) are mapped onto the tenant registry with a
containers ``registries.conf`` that skopeo reads, so the buildspec copies to the real ECR names.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onboarding_local.gitserver import serve_on_port

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
ARCHITECTURES = ("amd64", "arm64")


class Registry:
    """One ``docker-registry`` process with filesystem storage under the work dir."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root / name
        self.name = name
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Registry:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry is not installed (make installs it: apt-get install docker-registry)")
        self.root.mkdir(parents=True, exist_ok=True)

        def spawn(port: int) -> subprocess.Popen[bytes]:
            config = self.root / "config.yml"
            config.write_text(
                "version: 0.1\n"
                "log:\n  level: error\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: 127.0.0.1:{port}\n"
            )
            return subprocess.Popen(
                [binary, "serve", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=(self.root / "registry.log").open("ab"),
            )

        self._proc, self.port = serve_on_port(spawn, self.port, 15)
        if self._proc is None:
            raise RuntimeError(f"docker-registry did not listen on {self.host}; see {self.root / 'registry.log'}")
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def _get(self, path: str, accept: str = f"{OCI_INDEX},{OCI_MANIFEST}") -> tuple[bytes, dict[str, str]]:
        request = urllib.request.Request(f"http://{self.host}/v2/{path}", headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback registry
            return response.read(), dict(response.headers)

    def repositories(self) -> list[str]:
        body, _ = self._get("_catalog?n=1000", "application/json")
        return list(json.loads(body)["repositories"])

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        try:
            body, headers = self._get(f"{repository}/manifests/{reference}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return headers.get("Docker-Content-Digest") or f"sha256:{hashlib.sha256(body).hexdigest()}"

    def manifest(self, repository: str, reference: str) -> dict[str, Any]:
        body, _ = self._get(f"{repository}/manifests/{reference}")
        return dict(json.loads(body))


def registries_conf(path: Path, mapping: dict[str, str]) -> Path:
    """A containers registries.conf mapping each registry host (ECR names) to a local registry."""
    blocks = [
        f'[[registry]]\nprefix = "{prefix}"\nlocation = "{location}"\ninsecure = true\n'
        for prefix, location in sorted(mapping.items())
    ]
    path.write_text("unqualified-search-registries = []\n\n" + "\n".join(blocks))
    return path


# ------------------------------------------------------------------ images, built offline
def _blob(root: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layer(name: str, version: str, arch: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        content = json.dumps({"service": name, "version": version, "arch": arch}).encode()
        info = tarfile.TarInfo("app/release.json")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def build_image(root: Path, name: str, version: str) -> str:
    """Write a multi-arch OCI image layout at ``root`` (tag ``version``); returns the index digest."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    manifests = []
    for arch in ARCHITECTURES:
        layer = _layer(name, version, arch)
        layer_ref = {"mediaType": OCI_LAYER, **_blob(root, layer)}
        config = {
            "architecture": arch,
            "os": "linux",
            "config": {"Entrypoint": ["/app/run"], "Labels": {"org.opencontainers.image.version": version}},
            "rootfs": {"type": "layers", "diff_ids": [layer_ref["digest"]]},
        }
        config_ref = {"mediaType": OCI_CONFIG, **_blob(root, json.dumps(config, sort_keys=True).encode())}
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_ref, "layers": [layer_ref]}
        ref = _blob(root, json.dumps(manifest, sort_keys=True).encode())
        manifests.append({"mediaType": OCI_MANIFEST, **ref, "platform": {"architecture": arch, "os": "linux"}})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    index_ref = _blob(root, json.dumps(index, sort_keys=True).encode())
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {"mediaType": OCI_INDEX, **index_ref, "annotations": {"org.opencontainers.image.ref.name": version}}
                ],
            }
        )
    )
    return str(index_ref["digest"])


@dataclass(frozen=True)
class ReleaseImage:
    name: str
    repository: str  # host/path in the provider registry
    digest: str


def seed_release(registry: Registry, workdir: Path, version: str, names: tuple[str, ...]) -> list[ReleaseImage]:
    """Build the release's images offline and push them, multi-arch, into the provider registry."""
    images = []
    for name in names:
        layout = workdir / "images" / name
        digest = build_image(layout, name, version)
        repository = f"{registry.host}/saas/{name}"
        subprocess.run(
            [
                "skopeo",
                "copy",
                "--quiet",
                "--all",
                "--preserve-digests",
                "--dest-tls-verify=false",
                f"oci:{layout}:{version}",
                f"docker://{repository}:{version}",
            ],
            check=True,
            capture_output=True,
        )
        images.append(ReleaseImage(name=name, repository=repository, digest=digest))
    return images
