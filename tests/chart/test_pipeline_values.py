"""What the pipeline writes, rendered by the real chart: the values `onboarding.manifests` puts in each HelmRelease
satisfy the chart's values.schema.json, render with `helm template`, and every object validates. Properties that
used to be checked on the GitOps file (hybrid placement, isolation, the customer's database) are checked on what
the cluster would actually run."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from onboarding.contract.common import DeploymentModel, Tier
from onboarding.contract.signup import SignupRequested
from onboarding.identity import derive_tenant_id
from onboarding.manifests import (
    HYBRID_COMPUTE_LABEL,
    NODE_LABEL,
    TAINT_KEY,
    GitOpsLayout,
    SharedEndpoint,
    render_tenant,
)
from tests.chart.chart import CHART, Rendered, report, template
from tests.chart.netpol import Peer, allowed
from tests.utils.k8s import validate_object
from tests.utils.release import spec_of

LAYOUT = GitOpsLayout(
    shared_endpoints=(SharedEndpoint(cidr="10.0.100.0/24", port=443, description="provider API"),),
    ingress_namespace="ingress-system",
    aws_account_id="111122223333",
    aws_region="eu-west-1",
    cluster_name="saas-production",
)
HYBRID = {
    "bundled": {"nodeCidrs": ["192.168.10.0/24"], "podCidrs": ["192.168.128.0/20"], "nodeCount": 2,
                "supportingServices": "bundled"},
    "customer": {"nodeCidrs": ["10.20.0.0/24"], "podCidrs": ["10.21.0.0/16"], "nodeCount": 2,
                 "supportingServices": "customer", "databaseEndpoint": "10.20.0.50:6432",
                 "databaseSecretArn": "arn:aws:secretsmanager:eu-west-1:222222222222:secret:db-AbCdEf"},
}  # fmt: skip


def signup(tier: str, model: str, hybrid: str | None) -> SignupRequested:
    extra: dict[str, Any] = {}
    if model == "remote":
        extra = {"awsAccountId": "222222222222", "region": "eu-west-1"}
    if model == "hybrid":
        extra = {"hybrid": HYBRID[hybrid or "bundled"]}
    return SignupRequested.model_validate(
        {"signupId": f"pv-{tier}-{model}", "tenantName": "Café Pipeline Ltd", "adminEmail": "a@b.example",
         "tier": tier, "deploymentModel": model, **extra}
    )  # fmt: skip


CASES = {
    f"{tier}-{model}{'-' + db if db else ''}-{'suspended' if suspended else 'active'}": (tier, model, db, suspended)
    for tier in ("basic", "premium", "advanced")
    for model, db in (
        ("pooled", None),
        ("siloed", None),
        ("remote", None),
        ("hybrid", "bundled"),
        ("hybrid", "customer"),
    )
    for suspended in (False, True)
}


def release_of(case: str) -> dict[str, Any]:
    tier, model, db, suspended = CASES[case]
    spec = spec_of(derive_tenant_id(f"pv-{tier}-{model}"), signup(tier, model, db), suspended=suspended)
    (release,) = [d for d in render_tenant(spec, LAYOUT) if d["kind"] == "HelmRelease"]
    return release


@functools.cache
def rendered(case: str) -> Rendered:
    values = release_of(case)["spec"]["values"]
    result = template(values)
    assert result.returncode == 0, report(result)
    return Rendered(values, [o for o in yaml.safe_load_all(result.stdout) if o])


@functools.cache
def schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads((Path(CHART) / "values.schema.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_pipelines_values_are_the_charts_contract_and_render_valid_objects(case: str) -> None:
    release = release_of(case)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in schema().iter_errors(release["spec"]["values"])]
    assert errors == []
    for obj in rendered(case).objects:
        validate_object(obj)


def test_a_wrong_value_the_pipeline_could_write_fails_the_render() -> None:
    values = dict(release_of("premium-siloed-active")["spec"]["values"], tier="gold")
    result = template(values)
    assert result.returncode != 0 and "tier" in result.stderr


def test_siloed_tenants_get_their_aws_resources_and_no_one_else_does() -> None:
    assert rendered("premium-siloed-active").of_kind("Table") and rendered("premium-siloed-active").of_kind("Role")
    for case in ("premium-pooled-active", "premium-remote-active", "premium-hybrid-bundled-active"):
        assert not rendered(case).of_kind("Table")


@pytest.mark.parametrize("case", [c for c in CASES if "-hybrid-" in c])
def test_every_hybrid_pod_is_pinned_to_the_tenants_own_nodes(case: str) -> None:
    r = rendered(case)
    tenant_id = r.values["tenantId"]
    for workload in r.workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {NODE_LABEL: tenant_id, HYBRID_COMPUTE_LABEL[0]: HYBRID_COMPUTE_LABEL[1]}
        assert {"key": TAINT_KEY, "operator": "Equal", "value": tenant_id, "effect": "NoSchedule"} in pod["tolerations"]


@pytest.mark.parametrize("case", [c for c in CASES if "-hybrid-" in c or "-siloed-" in c])
def test_traffic_stays_in_the_namespace_plus_dns_the_shared_endpoints_and_the_ingress_controller(case: str) -> None:
    r = rendered(case)
    policies, namespace = r.of_kind("NetworkPolicy"), r.namespace
    api = next(w for w in r.workloads() if w["metadata"]["name"].endswith("api"))["spec"]["template"]["metadata"]
    labels = api["labels"]

    def egress(peer: Peer, port: int, protocol: str = "TCP") -> bool:
        return allowed(policies, "Egress", namespace=namespace, pod_labels=labels, peer=peer, port=port,
                       protocol=protocol)  # fmt: skip

    def ingress(peer: Peer, port: int = 8080) -> bool:
        return allowed(policies, "Ingress", namespace=namespace, pod_labels=labels, peer=peer, port=port)

    assert ingress(Peer(namespace="ingress-system")), "the configured ingress controller reaches the api"
    assert not ingress(Peer(namespace="other-tenant"))
    assert egress(Peer(namespace="kube-system"), 53, "UDP")
    assert egress(Peer(ip="10.0.100.9"), 443) and not egress(Peer(ip="10.0.100.9"), 80)
    assert not egress(Peer(namespace="other-tenant"), 8080) and not egress(Peer(ip="52.94.0.10"), 443)


@pytest.mark.parametrize("suspended", ["active", "suspended"])
def test_a_customer_database_is_reached_from_the_tenant_only_on_its_port_and_never_run(suspended: str) -> None:
    r = rendered(f"advanced-hybrid-customer-{suspended}")
    assert not r.of_kind("StatefulSet")
    assert r.values["database"] == {
        "mode": "customer",
        "host": "10.20.0.50",
        "port": 6432,
        "secretArn": HYBRID["customer"]["databaseSecretArn"],
    }
    labels = r.workloads()[0]["spec"]["template"]["metadata"]["labels"]
    policies = r.of_kind("NetworkPolicy")
    assert allowed(policies, "Egress", namespace=r.namespace, pod_labels=labels, peer=Peer(ip="10.20.0.50"), port=6432)
    assert not allowed(
        policies, "Egress", namespace=r.namespace, pod_labels=labels, peer=Peer(ip="10.20.0.50"), port=22
    )


def test_a_suspended_hybrid_tenant_runs_nothing_and_keeps_its_database_volume() -> None:
    r = rendered("premium-hybrid-bundled-suspended")
    assert all(w["spec"]["replicas"] == 0 for w in r.workloads())
    (database,) = r.of_kind("StatefulSet")
    (claim,) = database["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_every_model_and_tier_is_covered() -> None:
    seen = {(tier, model) for tier, model, _, _ in CASES.values()}
    assert seen == {(t.value, m.value) for t in Tier for m in DeploymentModel}
