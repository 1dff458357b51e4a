"""The customer's bootstrap template, checked as data (moto does not enforce IAM), and the buildspec's home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from onboarding_local.template import Template, load_template
from onboarding_local.trust import trust_allows

REPO = Path(__file__).resolve().parents[2]
PROVIDER_ROLES = "arn:aws:iam::111111111111:role/verify,arn:aws:iam::111111111111:role/build"


def bootstrap(**parameters: str) -> Template:
    return Template(
        REPO / "tenant-account" / "bootstrap.yaml",
        parameters={"TenantId": "t-acme-0123456789", "ProviderPipelineRoleArns": PROVIDER_ROLES, **parameters},
    )


def role() -> dict[str, Any]:
    t = bootstrap()
    return dict(t.resolve(t.resources["OnboardingRole"]["Properties"]))


def test_cfn_lint_passes_on_the_bootstrap_template() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(REPO / "tenant-account" / "bootstrap.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_role_trusts_only_the_provider_pipeline_roles_and_requires_the_external_id() -> None:
    trust = role()["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"AWS": PROVIDER_ROLES.split(",")}  # no account root, no wildcard
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "t-acme-0123456789"}}
    assert trust_allows(trust, "111111111111", "t-acme-0123456789") is None
    assert trust_allows(trust, "111111111111", "t-other") is not None  # confused deputy: refused
    assert trust_allows(trust, "999999999999", "t-acme-0123456789") is not None


def test_the_role_grants_the_least_onboarding_needs_on_the_tenants_own_repositories() -> None:
    (policy,) = role()["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    for sid in ("ManageTenantRepositories", "PushToTenantRepositories"):
        resource = statements[sid]["Resource"]
        assert resource.endswith(":repository/t-acme-0123456789/*"), resource
        assert all(a.startswith("ecr:") and "*" not in a for a in statements[sid]["Action"])
    assert statements["RegistryLogin"] == {
        "Sid": "RegistryLogin",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }
    every_action = {
        a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert every_action <= {
        "ecr:CreateRepository",
        "ecr:DeleteRepository",
        "ecr:DescribeRepositories",
        "ecr:DescribeImages",
        "ecr:ListTagsForResource",
        "ecr:PutLifecyclePolicy",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:TagResource",
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:CompleteLayerUpload",
        "ecr:GetDownloadUrlForLayer",
        "ecr:InitiateLayerUpload",
        "ecr:PutImage",
        "ecr:UploadLayerPart",
        "ecr:GetAuthorizationToken",
    }


def test_the_nodes_get_pull_only_on_the_tenants_repositories() -> None:
    t = bootstrap(NodeRoleName="eks-nodes")
    pull = t.resolve(t.resources["PullPolicy"]["Properties"])
    assert pull["Roles"] == ["eks-nodes"]
    actions = {
        a
        for s in pull["PolicyDocument"]["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetAuthorizationToken",
    }
    without = bootstrap()
    assert "Roles" not in without.resolve(without.resources["PullPolicy"]["Properties"])


def test_the_role_name_is_the_one_the_pipeline_assumes() -> None:
    from onboarding.remote import ROLE_PREFIX, role_arn

    assert role()["RoleName"] == f"{ROLE_PREFIX}t-acme-0123456789"
    assert role_arn("222222222222", "t-acme-0123456789").endswith(f":role/{ROLE_PREFIX}t-acme-0123456789")


def test_the_project_runs_exactly_the_buildspec_in_the_repo() -> None:
    template = load_template(REPO / "template.yaml")
    inline = template["Resources"]["ArtifactBuildProject"]["Properties"]["Source"]["BuildSpec"]
    assert inline == (REPO / "buildspecs" / "copy-release.yml").read_text(), (
        "template.yaml's ArtifactBuildProject BuildSpec must equal buildspecs/copy-release.yml"
    )


def test_the_build_callback_listens_on_the_default_bus_for_this_project_only() -> None:
    template = load_template(REPO / "template.yaml")
    rule = template["Resources"]["BuildCallbackFunction"]["Properties"]["Events"]["BuildStateChange"]["Properties"]
    assert rule["EventBusName"] == "default"
    assert rule["Pattern"]["detail"]["project-name"] == [{"Ref": "ArtifactBuildProject"}]
    assert set(rule["Pattern"]["detail"]["build-status"]) >= {"SUCCEEDED", "FAILED", "STOPPED", "TIMED_OUT"}


def test_the_waiting_task_has_a_timeout() -> None:
    import json

    asl = json.loads((REPO / "statemachines" / "onboarding.asl.json").read_text())
    waiting = [n for n, s in asl["States"].items() if str(s.get("Resource", "")).endswith(".waitForTaskToken")]
    assert waiting == ["StartArtifactBuild", "AwaitReconcile"]
    for name in waiting:
        state = asl["States"][name]
        assert state.get("TimeoutSeconds") or state.get("TimeoutSecondsPath") or state.get("HeartbeatSeconds"), name
