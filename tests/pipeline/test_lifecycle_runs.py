"""Tenant lifecycle runs that need a local stack of their own: `onboarding-local run` of a file sequence (with a
customer account bootstrapped), and parameters other than the template's defaults. The other lifecycle tests share
one stack in test_lifecycle.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from onboarding_local.cli import run as run_files
from tests.conftest import signup_event
from tests.utils.operations import onboard, request, run
from tests.utils.paths import tenant_file
from tests.utils.remote import tenant_ecr

pytestmark = pytest.mark.pipeline


def test_an_offboarded_name_is_reserved_then_free_again(tmp_path: Path) -> None:
    from onboarding_local.stack import LocalStack

    with LocalStack(tmp_path / "s", parameters={"NameReleaseAfterDays": "0"}) as free_now:
        tenant_id = onboard(free_now, "n-1", "Recycled Name")
        run(free_now, request("offboard", tenant_id, "n-off"))
        assert onboard(free_now, "n-2", "recycled name")  # same name, another signup: allowed at once


HYBRID = {
    "nodeCidrs": ["192.168.40.0/24"],
    "podCidrs": ["192.168.64.0/20"],
    "nodeCount": 2,
    "supportingServices": "bundled",
}


@pytest.mark.parametrize("model", ["remote", "hybrid"])
def test_full_lifecycle_of_remote_and_hybrid_tenants_keeps_their_placement(tmp_path: Path, model: str) -> None:
    signup_id = f"life-{model}"
    tenant_id = derive_tenant_id(signup_id)
    extra: dict[str, Any] = (
        {"awsAccountId": "222222222222", "region": "eu-west-1"} if model == "remote" else {"hybrid": HYBRID}
    )
    steps = [
        signup_event(signup_id, f"Lifecycle {model}", tier="advanced", deploymentModel=model, **extra),
        request("change-tier", tenant_id, tier="premium"),
        request("suspend", tenant_id),
        request("resume", tenant_id),
        request("offboard", tenant_id),
    ]
    files = []
    for i, event in enumerate(steps):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(event), encoding="utf-8")
    path = f"remote/{tenant_id}/release.yaml" if model == "remote" else tenant_file(tenant_id)
    seen: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    def inspect(_: int, stack: Any) -> None:
        text = stack.git.read(path)
        seen.append((stack.tenant(tenant_id), [] if text is None else list(yaml.safe_load_all(text))))

    run_files(files, tmp_path / "wd", 120, after_each=inspect, tenant_accounts=[("222222222222", tenant_id)])
    statuses = [(record["status"], record["tier"], record["deploymentModel"]) for record, _ in seen]
    assert statuses == [
        ("ACTIVE", "advanced", model),
        ("ACTIVE", "premium", model),
        ("SUSPENDED", "premium", model),
        ("ACTIVE", "premium", model),
        ("OFFBOARDED", "premium", model),
    ]
    releases = [next(d for d in docs if d["kind"] == "HelmRelease") for _, docs in seen[:4]]
    assert [r["spec"]["values"]["tier"] for r in releases] == ["advanced", "premium", "premium", "premium"]
    assert [r["spec"]["values"]["resources"]["replicas"] == 0 for r in releases] == [False, False, True, False]
    if model == "remote":  # still pinned to the tenant's own images after every change
        assert all(r["spec"]["values"]["images"] == releases[0]["spec"]["values"]["images"] for r in releases)
    else:
        assert all(
            r["spec"]["values"]["nodeSelector"] == releases[0]["spec"]["values"]["nodeSelector"] for r in releases
        )
    assert seen[-1][1] == []


def test_offboarding_a_remote_tenant_deletes_its_repositories_when_retention_says_so(tmp_path: Path) -> None:
    from onboarding_local.stack import LocalStack

    with LocalStack(tmp_path / "s", parameters={"RemoteRepositoryRetention": "delete"}) as stack:
        tenant_id = derive_tenant_id("ret-1")
        stack.bootstrap_tenant_account("222222222222", tenant_id)
        run(
            stack,
            signup_event(
                "ret-1",
                "Retention",
                tier="advanced",
                deploymentModel="remote",
                awsAccountId="222222222222",
                region="eu-west-1",
            ),
        )
        run(stack, request("offboard", tenant_id, "ret-off"))
        assert (stack.tenant(tenant_id) or {}).get("status") == "OFFBOARDED"
        ecr = tenant_ecr(stack, "222222222222", tenant_id)
        assert ecr.describe_repositories()["repositories"] == []
