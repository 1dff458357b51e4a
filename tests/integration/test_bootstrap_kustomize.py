"""The installed ``tenant-onboarding gitops-bootstrap`` writes a GitOps repository that the real ``kubectl kustomize``
builds at every path a Flux Kustomization points at, into objects that validate.

kustomize-controller generates the kustomization of a directory that has none (fluxcd/pkg
``kustomize_generator.go``: every ``.yaml``/``.yml`` file below it, a subdirectory with its own kustomization as one
resource, a placeholder namespace when there is nothing). ``controller_kustomization`` does the same here, in a copy
of the checkout, so that nothing the bootstrap writes has to carry a kustomization.yaml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.bootstrap import tenant_alert
from tests.utils.k8s import validate_object

# its module fixture is built once: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("bootstrap_kustomize")

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "production"
TENANT = "t-acme-0123456789"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def console_script() -> str:
    """The installed ``tenant-onboarding`` (pip install -e . puts it beside the venv's python)."""
    script = Path(sys.executable).parent / "tenant-onboarding"
    if script.is_file() and os.access(script, os.X_OK):
        return str(script)
    found = shutil.which("tenant-onboarding")
    if found:
        return found
    pytest.fail(
        f"the console script tenant-onboarding is not installed (looked for {script} and on PATH): "
        "run `make test`, which reinstalls the package when pyproject.toml changes (pip install -e .)",
        pytrace=False,
    )


def kubectl() -> str:
    candidate = REPO / ".venv" / "bin" / "kubectl"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("kubectl")
    if found:
        return found
    pytest.fail("kubectl is not installed: run `make test` (it installs it into .venv/bin when missing)", pytrace=False)


def controller_kustomization(directory: Path) -> dict[str, Any]:
    """The kustomization kustomize-controller generates for ``directory`` when it has none."""
    resources: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        here = Path(root)
        for sub in list(dirs):
            if any((here / sub / name).is_file() for name in KUSTOMIZATION_FILES):
                resources.append((here / sub).relative_to(directory).as_posix())
                dirs.remove(sub)
        for name in sorted(files):
            if Path(name).suffix in (".yaml", ".yml"):
                resources.append((here / name).relative_to(directory).as_posix())
    kustomization: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if resources:
        kustomization["resources"] = resources
    else:
        kustomization["namespace"] = "_placeholder"
    return kustomization


def build(checkout: Path, path: str, scratch: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize`` of ``path`` in a copy of the checkout, as kustomize-controller would build it."""
    copy = scratch / f"build-{len(list(scratch.iterdir()))}"
    shutil.copytree(checkout, copy)
    directory = copy / path
    assert directory.is_dir(), f"a Kustomization points at {path}, which the bootstrap did not write"
    if not any((directory / name).is_file() for name in KUSTOMIZATION_FILES):
        (directory / "kustomization.yaml").write_text(yaml.safe_dump(controller_kustomization(directory)))
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def sample_tenant_file() -> str:
    """What the pipeline commits for a tenant with its own namespace (minimal): Namespace, HelmRelease, Alert."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TENANT}}
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {
            "name": TENANT,
            "namespace": TENANT,
            "annotations": {"event.toolkit.fluxcd.io/tenantId": TENANT},
        },
        "spec": {
            "interval": "5m",
            "chart": {
                "spec": {
                    "chart": "tenant",
                    "version": "1.0.0",
                    "sourceRef": {"kind": "HelmRepository", "name": "tenant-charts", "namespace": "flux-system"},
                }
            },
            "values": {"tenantId": TENANT},
        },
    }
    return yaml.safe_dump_all([namespace, release, tenant_alert(TENANT, CLUSTER)], sort_keys=False)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gitops")
    result = subprocess.run(
        [
            console_script(),
            "gitops-bootstrap",
            "--cluster",
            CLUSTER,
            "--chart-registry",
            "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts",
            "--receiver-url",
            "https://abcdefghij.lambda-url.eu-west-1.on.aws/",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(Path(line).relative_to(out).as_posix() for line in result.stdout.splitlines()) == sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
    )
    return out


def kustomization_paths(checkout: Path) -> list[str]:
    """Every path a Flux Kustomization in the bootstrap points at, relative to the repository root."""
    paths = []
    for file in sorted((checkout / "clusters" / CLUSTER).glob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
            if doc and doc["kind"] == "Kustomization":
                paths.append(os.path.normpath(doc["spec"]["path"]))
    return paths


def test_the_kustomizations_point_at_infrastructure_and_tenants_only(checkout: Path) -> None:
    assert kustomization_paths(checkout) == ["infrastructure", "tenants"]
    assert not list(checkout.rglob("kustomization.yaml"))


def test_every_path_a_kustomization_points_at_builds_into_valid_objects(checkout: Path, tmp_path: Path) -> None:
    for path in kustomization_paths(checkout):
        for obj in build(checkout, path, tmp_path):
            validate_object(obj)


def test_the_cluster_path_flux_bootstrap_syncs_builds(checkout: Path, tmp_path: Path) -> None:
    objects = build(checkout, f"clusters/{CLUSTER}", tmp_path)
    assert sorted(obj["metadata"]["name"] for obj in objects) == ["tenant-infrastructure", "tenants"]
    for obj in objects:
        validate_object(obj)


def test_the_infrastructure_builds_into_valid_objects(checkout: Path, tmp_path: Path) -> None:
    objects = build(checkout, "infrastructure", tmp_path)
    assert sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects) == [
        ("Alert", "tenant-onboarding"),
        ("HelmRepository", "tenant-charts"),
        ("Namespace", "pool"),
        ("NetworkPolicy", "pool-ingress"),
        ("Provider", "tenant-onboarding"),
    ]
    for obj in objects:
        validate_object(obj)


def test_the_tenants_directory_builds_with_a_tenant_in_it(checkout: Path, tmp_path: Path) -> None:
    with_tenant = tmp_path / "with-tenant"
    shutil.copytree(checkout, with_tenant)
    (with_tenant / "tenants" / f"{TENANT}.yaml").write_text(sample_tenant_file(), encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    objects = build(with_tenant, "tenants", scratch)

    assert sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects) == [
        ("Alert", f"tenant-onboarding-{TENANT}"),
        ("HelmRelease", TENANT),
        ("Namespace", TENANT),
    ]
    for obj in objects:
        validate_object(obj)


def test_the_tenants_directory_builds_before_any_tenant(checkout: Path, tmp_path: Path) -> None:
    assert build(checkout, "tenants", tmp_path) == []


def test_the_remote_records_are_built_by_no_kustomization(checkout: Path) -> None:
    assert (checkout / "remote" / "README.md").is_file()
    assert all(path != "." and not path.startswith("remote") for path in kustomization_paths(checkout))
