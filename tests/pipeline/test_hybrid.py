"""Hybrid tenants on the real state machines: activation, isolation, CIDR claims, secrecy, cleanup."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from tests.conftest import sample_event, signup_event
from tests.pipeline.test_lifecycle import request
from tests.utils.paths import tenant_file

pytestmark = pytest.mark.pipeline

BUNDLED = {
    "nodeCidrs": ["192.168.10.0/24"],
    "podCidrs": ["192.168.128.0/20"],
    "nodeCount": 3,
    "supportingServices": "bundled",
}
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


def activations(stack: Any) -> list[dict[str, Any]]:
    return stack.client("ssm").describe_activations()["ActivationList"]


def secret(stack: Any, tenant_id: str) -> dict[str, Any] | None:
    try:
        value = stack.client("secretsmanager").get_secret_value(
            SecretId=f"{SECRET_PREFIX}/{tenant_id}/hybrid-activation"
        )
    except stack.client("secretsmanager").exceptions.ResourceNotFoundException:
        return None
    return json.loads(value["SecretString"])


def claimed(stack: Any) -> set[str]:
    """Every range held in the registry's cells (one attribute ``m:<range>`` per range, in its home cell)."""
    items = stack.client("dynamodb").scan(TableName="NetworkClaimsTable")["Items"]
    return {value["M"]["cidr"]["S"] for item in items for name, value in item.items() if name.startswith("m:")}


def handover(stack: Any, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


@pytest.mark.parametrize(("services", "hybrid"), [("bundled", BUNDLED), ("customer", CUSTOMER)])
def test_hybrid_happy_path(stack: Any, services: str, hybrid: dict[str, Any]) -> None:
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


def test_overlapping_cidrs_fail_the_later_tenant_and_leave_the_first_alone(stack: Any) -> None:
    run(stack, hybrid_signup("ov-1", "First Plant", BUNDLED))
    first = stack.tenant(derive_tenant_id("ov-1"))
    run(stack, hybrid_signup("ov-2", "Second Plant", {**CUSTOMER, "podCidrs": ["192.168.130.0/24"]}))
    second = stack.tenant(derive_tenant_id("ov-2"))
    assert second["status"] == "FAILED" and second["failedStep"] == "RegisterTenant"
    assert second["failureReason"] == "pod range 192.168.130.0/24 overlaps 192.168.128.0/20 of another tenant"
    assert stack.tenant(derive_tenant_id("ov-1")) == first
    assert len(activations(stack)) == 1 and claimed(stack) == {"192.168.10.0/24", "192.168.128.0/20"}


def test_of_two_concurrent_overlapping_signups_exactly_one_wins(stack: Any) -> None:
    run(
        stack,
        hybrid_signup("race-a", "Race A", BUNDLED),
        hybrid_signup("race-b", "Race B", {**BUNDLED, "nodeCidrs": ["192.168.10.0/25"], "podCidrs": ["10.99.0.0/16"]}),
    )
    statuses = sorted(stack.tenant(derive_tenant_id(s))["status"] for s in ("race-a", "race-b"))
    assert statuses == ["ACTIVE", "FAILED"]
    loser = next(t for t in stack.tenants() if t["status"] == "FAILED")
    assert "overlaps" in loser["failureReason"]
    assert len(activations(stack)) == 1


@pytest.mark.parametrize(
    ("hybrid", "field", "message"),
    [
        ({**BUNDLED, "nodeCidrs": ["8.8.8.0/24"]}, "hybrid.nodeCidrs.0", "not a private range"),
        ({**BUNDLED, "podCidrs": ["10.0.0.0/33"]}, "hybrid.podCidrs.0", "valid IPv4"),
        ({**BUNDLED, "podCidrs": ["banana"]}, "hybrid.podCidrs.0", "valid IPv4"),
        ({**BUNDLED, "nodeCidrs": ["10.0.1.0/24"]}, "hybrid.nodeCidrs.0", "overlaps the cluster range 10.0.0.0/16"),
        ({**BUNDLED, "nodeCount": 101}, "hybrid.nodeCount", "less than or equal to 100"),
        (
            {**BUNDLED, "supportingServices": "customer"},
            "hybrid.databaseEndpoint",
            "required for supportingServices 'customer'",
        ),
    ],
    ids=["public", "bad-prefix", "not-a-cidr", "cluster-range", "too-many-nodes", "customer-without-db"],
)
def test_malformed_public_and_cluster_cidrs_are_rejected_at_intake(
    stack: Any, hybrid: dict[str, Any], field: str, message: str
) -> None:
    run(stack, hybrid_signup("bad-1", "Bad Plant", hybrid))
    (rejection,) = events_of(stack, "Tenant Signup Rejected")
    errors = {e["field"]: e["message"] for e in rejection["errors"]}
    assert field in errors and message in errors[field], errors
    assert stack.tenants() == [] and activations(stack) == [] and claimed(stack) == set()


def test_the_activation_code_never_leaves_its_secret(stack: Any) -> None:
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
            sfn.get_execution_history(executionArn=e["executionArn"])["events"]
            for m in sfn.list_state_machines()["stateMachines"]
            for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"])["executions"]
        ],
        default=str,
    )
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


def test_a_failure_after_the_activation_compensates_everything_hybrid(stack: Any) -> None:
    stack.git.stop()
    run(stack, hybrid_signup("comp-1", "Compensated Plant", BUNDLED))
    stack.git.start()
    tenant_id = derive_tenant_id("comp-1")
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "CommitGitOps"
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["compensated"] is True
    assert activations(stack) == [] and secret(stack, tenant_id) is None and claimed(stack) == set()
    assert stack.client("s3").list_objects_v2(Bucket=stack.template.ref("HandoverBucket")).get("KeyCount", 0) == 0
    # the ranges are free again for another tenant
    run(stack, hybrid_signup("comp-2", "Next Plant", BUNDLED))
    assert stack.tenant(derive_tenant_id("comp-2"))["status"] == "ACTIVE"


def test_a_duplicate_delivery_makes_one_activation(stack: Any) -> None:
    event = hybrid_signup("dup-h", "Dup Plant", BUNDLED)
    run(stack, event, dict(event), dict(event))
    assert len(activations(stack)) == 1 and len(stack.tenants()) == 1
    assert len([c for c in stack.git.log() if c.startswith("Onboard tenant")]) == 1


def test_offboarding_a_hybrid_tenant_deregisters_its_activation_and_frees_its_ranges(stack: Any) -> None:
    run(stack, hybrid_signup("off-h", "Leaving Plant", BUNDLED))
    tenant_id = derive_tenant_id("off-h")
    run(stack, request("offboard", tenant_id, "off-h-1"))
    assert stack.tenant(tenant_id)["status"] == "OFFBOARDED"
    assert activations(stack) == [] and secret(stack, tenant_id) is None and claimed(stack) == set()
    assert stack.git.read(tenant_file(tenant_id)) is None


def create_activation_attempts(stack: Any) -> int:
    return sum(s["attempts"] for e in stack.executions() for s in e["states"] if s["name"] == "CreateHybridActivation")


def test_a_lost_create_activation_reply_leaves_one_activation_which_the_secret_names(stack: Any) -> None:
    from onboarding_local import ssm_activations

    # Given SSM creates the first activation, and its reply is lost (the call raises after taking effect)
    ssm_activations.lose_replies("CreateActivation", times=1)
    run(stack, hybrid_signup("lost-1", "Lost Reply Plant", BUNDLED))
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


def test_a_lost_reply_then_a_failure_compensates_every_activation_of_the_tenant(stack: Any) -> None:
    from onboarding_local import ssm_activations

    # Given the first activation's reply is lost, and the secret of the second cannot be stored (permanently)
    ssm_activations.lose_replies("CreateActivation", times=1)
    stack.inject_fault("secretsmanager", "CreateSecret", "AccessDeniedException", times=1)
    run(stack, hybrid_signup("lost-2", "Unlucky Plant", BUNDLED))
    tenant_id = derive_tenant_id("lost-2")
    # Then the onboarding failed at CreateHybridActivation, and compensation found both activations by their tags
    record = stack.tenant(tenant_id)
    assert record["status"] == "FAILED" and record["failedStep"] == "CreateHybridActivation"
    (failed,) = events_of(stack, "Tenant Onboarding Failed")
    assert failed["compensated"] is True
    assert activations(stack) == [] and secret(stack, tenant_id) is None and claimed(stack) == set()
    # And a re-drive onboards the tenant with one activation
    run(stack, hybrid_signup("lost-2", "Unlucky Plant", BUNDLED))
    assert stack.tenant(tenant_id)["status"] == "ACTIVE" and len(activations(stack)) == 1
