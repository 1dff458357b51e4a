"""An OCI registry (the tenant's ECR): pushing a Flux artifact with the distribution API, no client binary.

ECR is reached with the tenant role's credentials: ``ecr:GetAuthorizationToken`` gives the Basic
credentials the registry API takes. Locally, ``REGISTRY_ENDPOINTS`` maps ECR hosts to the local registry.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3

from onboarding.adapters.aws import translated
from onboarding.delivery import OCI_MANIFEST_TYPE, Artifact, digest_of
from onboarding.errors import StorageError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


class OciRegistry:
    def __init__(self, host: str, authorization: str | None = None, base_url: str | None = None) -> None:
        self._host = host
        self._auth = authorization
        self._base = base_url or f"https://{host}"

    def __repr__(self) -> str:  # the authorization never reaches a log line
        return f"OciRegistry({self._host!r})"

    @classmethod
    def ecr(cls, host: str, credentials: Mapping[str, str], region: str) -> OciRegistry:
        """An ECR registry, authorized with these credentials (or a local registry, over plain HTTP)."""
        if host.split(":")[0] in ("127.0.0.1", "localhost"):
            return cls(host, None, f"http://{host}")  # the local stack's registries
        endpoints = json.loads(os.environ.get("REGISTRY_ENDPOINTS") or "{}")
        local = endpoints.get(host) or endpoints.get("*")
        if local:
            return cls(host, None, local)
        client: ECRClient = boto3.client("ecr", region_name=region, **credentials)  # type: ignore[call-overload]
        with translated("ecr:GetAuthorizationToken"):
            token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        return cls(host, f"Basic {token}")

    def _request(self, method: str, url: str, body: bytes | None = None, content_type: str | None = None) -> str:
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - https or a local registry
        if self._auth:
            request.add_header("Authorization", self._auth)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return str(response.headers.get("Location") or "")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            if exc.code in (429, 500, 502, 503, 504):
                raise TransientError(f"registry {self._host} {method} {exc.code}: {detail}") from exc
            raise StorageError(f"registry {self._host} {method} refused ({exc.code}): {detail}") from exc
        except OSError as exc:  # a reset or a timeout: the push is idempotent by digest, so it is retried
            raise TransientError(f"registry {self._host} {method}: {type(exc).__name__}: {exc}") from exc

    def _blob(self, repository: str, data: bytes) -> None:
        location = self._request("POST", f"{self._base}/v2/{repository}/blobs/uploads/")
        if location.startswith("/"):
            location = self._base + location
        separator = "&" if "?" in location else "?"
        self._request("PUT", f"{location}{separator}digest={digest_of(data)}", data, "application/octet-stream")

    def has(self, chart: str, version: str) -> bool:
        """Whether ``charts/<chart>:<version>`` is published here (a HEAD of its manifest)."""
        url = f"{self._base}/v2/charts/{chart}/manifests/{version}"
        request = urllib.request.Request(url, method="HEAD")  # noqa: S310 - https or a local registry
        request.add_header("Accept", "application/vnd.oci.image.manifest.v1+json")
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=15):  # noqa: S310
                return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            if exc.code in (429, 500, 502, 503, 504):
                raise TransientError(f"registry {self._host} HEAD {exc.code}") from exc
            raise StorageError(f"registry {self._host} HEAD refused ({exc.code})") from exc
        except OSError as exc:
            raise TransientError(f"registry {self._host} HEAD: {type(exc).__name__}: {exc}") from exc

    def _get(self, url: str, accept: str | None = None) -> bytes:
        request = urllib.request.Request(url)  # noqa: S310 - https or a local registry
        if accept:
            request.add_header("Accept", accept)
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (429, 500, 502, 503, 504):
                raise TransientError(f"registry {self._host} GET {exc.code}") from exc
            raise StorageError(f"registry {self._host} GET {url.rsplit('/v2/', 1)[-1]} refused ({exc.code})") from exc
        except OSError as exc:
            raise TransientError(f"registry {self._host} GET: {type(exc).__name__}: {exc}") from exc

    def copy_chart_to(self, target: OciRegistry, chart: str, version: str, target_repository: str) -> None:
        """Copy ``charts/<chart>:<version>`` from here to ``target_repository`` there, byte for byte (digests kept)."""
        source = f"{self._base}/v2/charts/{chart}"
        manifest = self._get(f"{source}/manifests/{version}", OCI_MANIFEST_TYPE)
        parsed = json.loads(manifest)
        for blob in [parsed["config"], *parsed.get("layers", [])]:
            target._blob(target_repository, self._get(f"{source}/blobs/{blob['digest']}"))
        target._request(
            "PUT", f"{target._base}/v2/{target_repository}/manifests/{version}", manifest, OCI_MANIFEST_TYPE
        )

    def push(self, repository: str, artifact: Artifact, tag: str) -> str:
        """Push the artifact's blobs and manifest under ``tag``; returns the manifest's digest."""
        self._blob(repository, artifact.config)
        self._blob(repository, artifact.layer)
        self._request("PUT", f"{self._base}/v2/{repository}/manifests/{tag}", artifact.manifest, OCI_MANIFEST_TYPE)
        return artifact.digest
