"""Hybrid tenants on the real state machines: activation, isolation, CIDR claims, secrecy, cleanup.

The module's tests share one local stack (tests/utils/scoped_stack.py), each with signups, names and address
ranges of its own: a range that another test's tenant still holds would be refused. Each test sees only the
activations, range claims and handover guides that did not exist when it began (``HybridStack``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from tests.conftest import sample_event, signup_event
from tests.utils.operations import request
from tests.utils.paths import has_no_cluster_file, tenant_file
from tests.utils.scoped_stack import ScopedStack

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("hybrid")]


def bundled(block: int, **changes: Any) -> dict[str, Any]:
    """A plant with bundled services in 10.<block>.0.0/16: nodes in 10.<block>.0.0/24, pods in 10.<block>.128.0/20.

    Blocks are one test's each: 0 is the cluster's (10.0.0.0/16), 20 and 21 are CUSTOMER's; the sample signup of
    events/ holds 192.168.10.0/24 and 192.168.128.0/20 while its test runs."""
    return {
        "nodeCidrs": [f"10.{block}.0.0/24"],
        "podCidrs": [f"10.{block}.128.0/20"],
        "nodeCount": 3,
        "supportingServices": "bundled",
        **changes,
    }


BUNDLED = bundled(1)
CUSTOMER = {
    "nodeCidrs": ["10.20.0.0/24"],
    "podCidrs": ["10.21.0.0/16"],
    "nodeCount": 2,
    "supportingServices": "customer",
    "databaseEndpoint": "db.customer.example:5432",
    "databaseSecretArn": "arn:aws:secretsmanager:eu-west-1:222222222222:secret:db-AbCdEf",
}
SECRET_PREFIX = "onboarding/tenants"


def hybrid_signup(signup_id: str, name: str, hybrid: dict[str, Any]) -> dict[str, Any]:
    return signup_event(signup_id, name, tier="advanced", deploymentModel="hybrid", hybrid=hybrid)


def run(stack: Any, *events: dict[str, Any]) -> None:
    stack.put_events(list(events))
    stack.wait_idle(120)


def events_of(stack: Any, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.status_events() if e["detail-type"] == detail_type]


def all_activations(stack: Any) -> list[dict[str, Any]]:
    pages = stack.client("ssm").get_paginator("describe_activations").paginate()
    return [activation for page in pages for activation in page["ActivationList"]]


def all_claims(stack: Any) -> set[str]:
    """Every range held in the registry's cells (one attribute ``m:<range>`` per range, in its home cell)."""
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName="NetworkClaimsTable")
    return {
        value["M"]["cidr"]["S"]
        for page in pages
        for item in page["Items"]
        for name, value in item.items()
        if name.startswith("m:")
    }


def all_handovers(stack: Any) -> set[str]:
    pages = stack.client("s3").get_paginator("list_objects_v2").paginate(Bucket=stack.template.ref("HandoverBucket"))
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


class HybridStack:
    """The module's stack as one test sees it (a ``ScopedStack``), with the activations, range claims and
    handover guides that did not exist when the test began."""

    def __init__(self, view: ScopedStack) -> None:
        self._view = view
        self._activations = {a["ActivationId"] for a in all_activations(view)}
        self._claims = all_claims(view)
        self._handovers = all_handovers(view)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)

    def activations(self) -> list[dict[str, Any]]:
        return [a for a in all_activations(self._view) if a["ActivationId"] not in self._activations]

    def claimed(self) -> set[str]:
        return all_claims(self._view) - self._claims

    def handovers(self) -> set[str]:
        return all_handovers(self._view) - self._handovers


@pytest.fixture
def stack(scoped_stack: ScopedStack) -> Iterator[HybridStack]:
    from onboarding_local import ssm_activations

    try:
        yield HybridStack(scoped_stack)
    finally:  # a reply a failed test did not lose is not lost in the next one
        for operation in ("CreateActivation", "DeleteActivation"):
            ssm_activations.lose_replies(operation, times=0)


def activations(stack: HybridStack) -> list[dict[str, Any]]:
    """The activations this test's executions left."""
    return stack.activations()


def secret(stack: Any, tenant_id: str) -> dict[str, Any] | None:
    try:
        value = stack.client("secretsmanager").get_secret_value(
            SecretId=f"{SECRET_PREFIX}/{tenant_id}/hybrid-activation"
        )
    except stack.client("secretsmanager").exceptions.ResourceNotFoundException:
        return None
    return json.loads(value["SecretString"])


def claimed(stack: HybridStack) -> set[str]:
    """The ranges this test's tenants hold."""
    return stack.claimed()


def handover(stack: Any, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


@pytest.mark.parametrize(("services", "hybrid"), [("bundled", BUNDLED), ("customer", CUSTOMER)])
def test_hybrid_happy_path(stack: HybridStack, services: str, hybrid: dict[str, Any]) -> None:
    run(stack, hybrid_signup(f"hy-{services}", f"Hybrid {services}", hybrid))
    tenant_id = derive_tenant_id(f"hy-{services}")
    record = stack.tenant(tenant_id)
    assert record["status"] == "ACTIVE" and record["deploymentModel"] == "hybrid"
    assert record["hybrid"]["nodeCidrs"] == hybrid["nodeCidrs"] and record["hybrid"]["podCidrs"] == hybrid["podCidrs"]
    (activation,) = activations(stack)
    assert activation["RegistrationLimit"] == hybrid["nodeCount"] and activation["DefaultInstanceName"] == tenant_id
    assert {"Key": "tenantId", "Value": tenant_id} in activation["Tags"]
    assert activation["IamRole"] == "AmazonEKSHybridNodesRole" and not activation["Expired"]
    stored = secret(stack, tenant_id)
    assert stored is not None and stored["activationId"] == activation["ActivationId"]
    resources = record["hybridResources"]
    assert f":secret:{SECRET_PREFIX}/{tenant_id}/hybrid-activation" in resources["activationSecretArn"]
    guide = handover(stack, resources["handoverUri"])
    assert resources["activationSecretArn"] in guide and stored["activationCode"] not in guide
    assert claimed(stack) == set(hybrid["nodeCidrs"]) | set(hybrid["podCidrs"])
    docs = list(yaml.safe_load_all(stack.git.read(tenant_file(tenant_id))))
    # one HelmRelease of the versioned tenant chart, which renders the policies, the database and the workloads
    assert [d["kind"] for d in docs] == ["Namespace", "HelmRelease", "Alert"]  # its own Alert: see the README
    release = docs[1]
    assert release["spec"]["chart"]["spec"]["version"] == record["chartVersion"] == stack.chart_version
    assert release["spec"]["values"]["database"]["mode"] == services
    assert release["spec"]["values"]["nodeSelector"]["onboarding.saas.aws/tenant-id"] == tenant_id


def test_overlapping_cidrs_fail_the_later_tenant_and_leave_the_first_alone(stack: HybridStack) -> None:
    run(stack, hybrid_signup("ov-1", "First Plant", bundled(2)))
    first = stack.tenant(derive_tenant_id("ov-1"))
    overlapping = {**CUSTOMER, "nodeCidrs": ["10.3.0.0/24"], "podCidrs": ["10.2.130.0/24"]}
    run(stack, hybrid_signup("ov-2", "Second Plant", overlapping))
    second = stack.tenant(derive_tenant_id("ov-2"))
    assert second["status"] == "FAILED" and second["failedStep"] == "RegisterTenant"
    assert second["failureReason"] == "pod range 10.2.130.0/24 overlaps 10.2.128.0/20 of another tenant"
    assert stack.tenant(derive_tenant_id("ov-1")) == first
    assert len(activations(stack)) == 1 and claimed(stack) == {"10.2.0.0/24", "10.2.128.0/20"}


def test_of_two_concurrent_overlapping_signups_exactly_one_wins(stack: HybridStack) -> None:
    run(
        stack,
        hybrid_signup("race-a", "Race A", bundled(4)),
        hybrid_signup("race-b", "Race B", bundled(4, nodeCidrs=["10.4.0.0/25"], podCidrs=["10.5.0.0/16"])),
    )
    statuses = sorted(stack.tenant(derive_tenant_id(s))["status"] for s in ("race-a", "race-b"))
    assert statuses == ["ACTIVE", "FAILED"]
    loser = next(t for t in stack.tenants() if t["status"] == "FAILED")
    assert "overlaps" in loser["failureReason"]
    assert len(activations(stack)) == 1


@pytest.mark.parametrize(
    ("hybrid", "field", "message"),
    [
        (bundled(6, nodeCidrs=["8.8.8.0/24"]), "hybrid.nodeCidrs.0", "not a private range"),
        (bundled(6, podCidrs=["10.0.0.0/33"]), "hybrid.podCidrs.0", "valid IPv4"),
        (bundled(6, podCidrs=["banana"]), "hybrid.podCidrs.0", "valid IPv4"),
        (bundled(6, nodeCidrs=["10.0.1.0/24"]), "hybrid.nodeCidrs.0", "overlaps the cluster range 10.0.0.0/16"),
        (bundled(6, nodeCount=101), "hybrid.nodeCount", "less than or equal to 100"),
        (
            bundled(6, supportingServices="customer"),
            "hybrid.databaseEndpoint",
            "required for supportingServices 'customer'",
        ),
    ],
    ids=["public", "bad-prefix", "not-a-cidr", "cluster-range", "too-many-nodes", "customer-without-db"],
)
def test_malformed_public_and_cluster_cidrs_are_rejected_at_intake(
    stack: HybridStack, request: pytest.FixtureRequest, hybrid: dict[str, Any], field: str, message: str
) -> None:
    case = request.node.callspec.id
    run(stack, hybrid_signup(f"bad-{case}", f"Bad Plant {case}", hybrid))
    (rejection,) = events_of(stack, "Tenant Signup Rejected")
    errors = {e["field"]: e["message"] for e in rejection["errors"]}
    assert field in errors and message in errors[field], errors
    assert stack.tenants() == [] and activations(stack) == [] and claimed(stack) == set()


MACHINES = ("OnboardingStateMachine", "LifecycleStateMachine", "ReleaseStateMachine")


def test_the_activation_code_never_leaves_its_secret(stack: HybridStack) -> None:
    run(stack, sample_event("signup-hybrid.json"))
    tenant_id = derive_tenant_id("umbrella-signup-0005")
    stored = secret(stack, tenant_id)
    assert stored is not None
    code, activation_id = stored["activationCode"], stored["activationId"]
    run(stack, request("suspend", tenant_id, "scan-suspend"))
    run(stack, request("offboard", tenant_id, "scan-offboard"))
    assert stack.tenant(tenant_id)["status"] == "OFFBOARDED"
    logs = (stack.workdir / "lambda.log").read_text()
    events = json.dumps(stack.emitted)
    history = json.dumps(stack.executions(), default=str)
    assert tenant_id in logs and tenant_id in history and tenant_id in events  # the haystacks are real
    repo = subprocess.run(
        ["git", "-C", str(stack.git.repo), "log", "-p", "--all"], capture_output=True, text=True, check=True
    ).stdout
    records = json.dumps(stack.tenants(), default=str)
    sfn = stack.client("stepfunctions")
    raw_history = json.dumps(
        [
            sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            for machine in MACHINES
            for arn in stack.execution_arns(machine)  # this test's: the onboarding, the suspension, the offboarding
        ],
        default=str,
    )
    assert tenant_id in raw_history
    for haystack, where in (
        (logs, "logs"),
        (history, "executions"),
        (raw_history, "execution history"),
        (repo, "GitOps repository"),
        (events, "events"),
        (records, "tenant records"),
    ):
        assert code not in haystack, f"the activation code leaked into the {where}"
        assert activation_id not in haystack, f"the activation id leaked into the {where}"
    assert len(code) == 20


def test_a_failure_after_the_activation_compensates_everything_hybrid(stack: HybridStack) -> None:
    stack.git.stop()
    run(stack, hybrid_signup("comp-1", "Compensated Plant", bundled(7)))
    stack.git.start()
    tenant_id = derive_tenant_id("comp-1")
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "CommitGitOps"
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["compensated"] is True
    assert activations(stack) == [] and secret(stack, tenant_id) is None and claimed(stack) == set()
    assert stack.handovers() == set()
    # the ranges are free again for another tenant
    run(stack, hybrid_signup("comp-2", "Next Plant", bundled(7)))
    assert stack.tenant(derive_tenant_id("comp-2"))["status"] == "ACTIVE"


def test_a_duplicate_delivery_makes_one_activation(stack: HybridStack) -> None:
    event = hybrid_signup("dup-h", "Dup Plant", bundled(8))
    run(stack, event, dict(event), dict(event))
    assert len(activations(stack)) == 1 and len(stack.tenants()) == 1
    assert len([c for c in stack.new_commits() if c.startswith("Onboard tenant")]) == 1


def test_offboarding_a_hybrid_tenant_deregisters_its_activation_and_frees_its_ranges(stack: HybridStack) -> None:
    run(stack, hybrid_signup("off-h", "Leaving Plant", bundled(9)))
    tenant_id = derive_tenant_id("off-h")
    run(stack, request("offboard", tenant_id, "off-h-1"))
    assert stack.tenant(tenant_id)["status"] == "OFFBOARDED"
    assert activations(stack) == [] and secret(stack, tenant_id) is None and claimed(stack) == set()
    assert has_no_cluster_file(stack.git, tenant_id)


def create_activation_attempts(stack: Any) -> int:
    return sum(s["attempts"] for e in stack.executions() for s in e["states"] if s["name"] == "CreateHybridActivation")


def test_a_lost_create_activation_reply_leaves_one_activation_which_the_secret_names(stack: HybridStack) -> None:
    from onboarding_local import ssm_activations

    # Given SSM creates the first activation, and its reply is lost (the call raises after taking effect)
    ssm_activations.lose_replies("CreateActivation", times=1)
    run(stack, hybrid_signup("lost-1", "Lost Reply Plant", bundled(10)))
    tenant_id = derive_tenant_id("lost-1")
    # Then the retried step left exactly one activation: the one the secret names
    assert stack.tenant(tenant_id)["status"] == "ACTIVE" and create_activation_attempts(stack) == 2
    (activation,) = activations(stack)
    stored = secret(stack, tenant_id)
    assert stored is not None and stored["activationId"] == activation["ActivationId"]
    assert {"Key": "execution", "Value": tenant_id} in activation["Tags"]
    # And offboarding deletes every activation of the tenant
    run(stack, request("offboard", tenant_id, "lost-1-off"))
    assert activations(stack) == [] and secret(stack, tenant_id) is None


def test_a_lost_reply_then_a_failure_compensates_every_activation_of_the_tenant(stack: HybridStack) -> None:
    from onboarding_local import ssm_activations

    # Given the first activation's reply is lost, and the secret of the second cannot be stored (permanently)
    ssm_activations.lose_replies("CreateActivation", times=1)
    stack.inject_fault("secretsmanager", "CreateSecret", "AccessDeniedException", times=1)
    run(stack, hybrid_signup("lost-2", "Unlucky Plant", bundled(11)))
    tenant_id = derive_tenant_id("lost-2")
    # Then the onboarding failed at CreateHybridActivation, and compensation found both activations by their tags
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "CreateHybridActivation"
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["compensated"] is True
    assert activations(stack) == [] and secret(stack, tenant_id) is None and claimed(stack) == set()
    # And a re-drive onboards the tenant with one activation
    run(stack, hybrid_signup("lost-2", "Unlucky Plant", bundled(11)))
    assert stack.tenant(tenant_id)["status"] == "ACTIVE" and len(activations(stack)) == 1
