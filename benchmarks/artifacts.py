"""The release copy of remote tenants: each CodeBuild build's duration and what it copied, and skopeo's own steps."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from benchmarks.stats import summary

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def registry_get(host: str, path: str, accept: str) -> bytes:
    request = urllib.request.Request(f"http://{host}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback registry of the local stack
        body: bytes = response.read()
        return body


def image_bytes(host: str, repository: str, reference: str) -> int:
    """Bytes of one multi-arch image as stored: its index, each platform's manifest, config and layers."""
    index = registry_get(host, f"{repository}/manifests/{reference}", OCI_INDEX)
    total = len(index)
    for entry in json.loads(index)["manifests"]:
        manifest = registry_get(host, f"{repository}/manifests/{entry['digest']}", entry["mediaType"])
        parsed = json.loads(manifest)
        total += len(manifest) + parsed["config"]["size"] + sum(layer["size"] for layer in parsed["layers"])
    return total


def artifact_build(stack: Any, build_ids: Sequence[str], tenant_id: str) -> dict[str, Any]:
    """The release copy of one remote tenant: CodeBuild's own start and end times, and what it copied."""
    from onboarding_local.stack import RELEASE_VERSION

    if len(build_ids) != 1:
        return {"error": f"expected one build, found {len(build_ids)}"}
    (build,) = stack.client("codebuild").batch_get_builds(ids=list(build_ids))["builds"]
    outcome = stack.codebuild.builds[build_ids[0]]
    images = [i.name for i in stack.release]
    return {
        "buildId": build_ids[0],
        "status": outcome.status,
        "buildMs": round((build["endTime"] - build["startTime"]).total_seconds() * 1000, 1),
        "images": len(images),
        "bytes": sum(image_bytes(stack.tenant_registry.host, f"{tenant_id}/{n}", RELEASE_VERSION) for n in images),
    }


def artifact_summary(builds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-build duration, and what it moved: images and bytes per build, per second of build time."""
    images = statistics.median_low(b["images"] for b in builds)
    size = statistics.median_low(b["bytes"] for b in builds)
    build_ms = statistics.median(b["buildMs"] for b in builds)
    return {
        "builds": len(builds),
        "buildMs": summary([b["buildMs"] for b in builds]),
        "stateMs": summary([b["stateMs"] for b in builds]),
        "callbackPathMs": summary([b["stateMs"] - b["buildMs"] for b in builds]),
        "imagesPerBuild": images,
        "bytesPerBuild": size,
        "msPerImage": round(build_ms / images, 1),
        "imagesPerSecond": round(images * 1000 / build_ms, 2),
        "kibPerSecond": round(size / 1024 * 1000 / build_ms, 2),
    }


def skopeo_steps(stack: Any, repeats: int, timeout: float) -> dict[str, Any]:
    """The buildspec's per-image steps, run alone (median ms of ``repeats``): what one image costs, without bash.

    ``skopeo --version`` (process start), ``skopeo copy --all --preserve-digests`` of one release image into a
    new repository of the tenant registry (as the build does), and ``skopeo inspect --raw`` of the copy.
    """
    image = stack.release[0]
    source = f"docker://{image.repository}@{image.digest}"
    copy = ["skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--src-tls-verify=false"]
    samples: dict[str, list[float]] = {"version": [], "copy": [], "inspect": []}
    for i in range(repeats):
        target = f"docker://{stack.tenant_registry.host}/bench-skopeo/{image.name}-{i}:probe"
        commands = {
            "version": ["skopeo", "--version"],
            "copy": [*copy, "--dest-tls-verify=false", source, target],
            "inspect": ["skopeo", "inspect", "--raw", "--tls-verify=false", target],
        }
        for step, command in commands.items():
            started = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
            if result.returncode != 0:
                return {"error": f"skopeo {step}: {result.stderr.strip()[-500:]}"}
            samples[step].append((time.perf_counter() - started) * 1000)
    return {step: round(statistics.median(values), 1) for step, values in samples.items()}
