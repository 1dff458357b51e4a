"""The tenant chart (charts/tenant): one chart renders every deployment model, and what it renders is valid.

Rendered with the real helm (`make test` installs it into .venv/bin); every object is validated offline by
tests.utils.k8s.validate_object: core kinds against Kubernetes 1.32's OpenAPI schemas (strict), ACK kinds
against the ACK CRDs made strict. Each combination is rendered once per test process (chart.render).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import tarfile
from typing import Any

import pytest
import yaml

from tests.chart.chart import (
    CASES,
    CHART,
    REPO,
    Rendered,
    find_helm,
    helm,
    helm_env,
    render,
    report,
    template,
    tenant_values,
)
from tests.chart.netpol import Peer, allowed
from tests.utils.k8s import KUBERNETES_VERSION, ManifestInvalid, assert_all_valid, validate_object

LABELS = ("onboarding.saas.aws/tenant-id", "onboarding.saas.aws/tier", "onboarding.saas.aws/deployment-model")
DEDICATED = [c for c in CASES if CASES[c]["deploymentModel"] != "pooled"]
POOLED = [c for c in CASES if CASES[c]["deploymentModel"] == "pooled"]
HYBRID = [c for c in CASES if CASES[c]["deploymentModel"] == "hybrid"]
WITH_AWS = [c for c in CASES if CASES[c].get("aws", {}).get("resources")]
BUNDLED = [c for c in HYBRID if CASES[c]["database"]["mode"] == "bundled"]
API_PORT = 8080
RETAIN = {"services.k8s.aws/deletion-policy": "retain", "helm.sh/resource-policy": "keep"}


def pod_specs(rendered: Rendered) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{w['kind']}/{w['metadata']['name']}", w["spec"]["template"]["spec"]) for w in rendered.workloads()]


def pod_labels(rendered: Rendered, name: str) -> dict[str, str]:
    return rendered.one("Deployment", name)["spec"]["template"]["metadata"]["labels"]


# --- lint and validity --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("values", sorted(p.name for p in (CHART / "ci").glob("*-values.yaml")))
def test_lint_strict_passes_with_each_example(values: str) -> None:
    result = helm("lint", "--strict", CHART, "--values", CHART / "ci" / values)
    assert result.returncode == 0, report(result)


def test_lint_without_values_names_every_required_value() -> None:
    # The required values have no defaults on purpose: a release without them must not render at all.
    result = helm("lint", "--strict", CHART)
    assert result.returncode != 0, report(result)
    for key in ("tenantId", "tenantName", "tier", "deploymentModel", "host", "resources", "images"):
        assert key in result.stdout + result.stderr, report(result)


@pytest.mark.parametrize("case", list(CASES))
def test_every_rendered_object_is_valid(case: str) -> None:
    rendered = render(case)
    assert rendered.objects, "the chart rendered nothing"
    assert_all_valid(rendered.objects)  # core kinds against Kubernetes KUBERNETES_VERSION, ACK kinds against CRDs
    values = rendered.values
    for obj in rendered.objects:
        what = f"{obj['kind']}/{obj['metadata']['name']}"
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", what
        assert [labels.get(k) for k in LABELS] == [values["tenantId"], values["tier"], values["deploymentModel"]], what
        assert obj["metadata"].get("namespace") == rendered.namespace, what
    assert not rendered.of_kind("Namespace"), "the pipeline writes the tenant's Namespace, not the chart"


def test_kubernetes_version_is_the_one_documented() -> None:
    assert KUBERNETES_VERSION == "1.32"
    assert f"Kubernetes {KUBERNETES_VERSION}" in (CHART / "README.md").read_text(encoding="utf-8")


# --- what each model renders --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", POOLED)
def test_pooled_tenant_is_only_an_entry_in_the_pool(case: str) -> None:
    rendered = render(case)
    assert rendered.namespace == "pool"
    assert [o["kind"] for o in rendered.objects] == ["ConfigMap"], "no workload, policy or quota of its own"
    entry = rendered.one("ConfigMap", f"{rendered.values['tenantId']}-pool-entry")
    assert entry["data"]["host"] == rendered.values["host"]
    assert entry["data"]["requestsPerSecond"] == str(rendered.values["resources"]["requestsPerSecond"])
    assert entry["data"]["suspended"] == str(rendered.values["suspended"]).lower()
    assert entry["data"]["tier"] == rendered.values["tier"]
    assert json.loads(entry["data"]["images"]) == rendered.values["images"]


@pytest.mark.parametrize("case", DEDICATED)
def test_one_deployment_per_image_with_the_image_verbatim(case: str) -> None:
    rendered = render(case)
    values = rendered.values
    deployments = {d["metadata"]["name"]: d for d in rendered.of_kind("Deployment")}
    assert set(deployments) == set(values["images"])
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == values["images"][name]["image"]
        assert container["resources"]["requests"] == {
            "cpu": values["resources"]["cpu"],
            "memory": values["resources"]["memory"],
        }
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "tenant"
    rendered.one("ServiceAccount", "tenant")
    service = rendered.one("Service", "api")
    assert service["spec"]["selector"].items() <= pod_labels(rendered, "api").items()
    ingress = rendered.one("Ingress", "api")
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == values["host"]
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "api", "port": {"name": "http"}}
    ports = deployments["api"]["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"name": "http", "containerPort": API_PORT, "protocol": "TCP"}]


@pytest.mark.parametrize("case", list(CASES))
def test_suspended_tenant_runs_nothing_and_an_active_one_runs_its_replicas(case: str) -> None:
    rendered = render(case)
    values = rendered.values
    for workload in rendered.workloads():
        what = f"{workload['kind']}/{workload['metadata']['name']}"
        if values["suspended"]:
            assert workload["spec"]["replicas"] == 0, what
        elif workload["kind"] == "Deployment":
            assert workload["spec"]["replicas"] == values["resources"]["replicas"], what
        else:
            assert workload["spec"]["replicas"] == 1, what


@pytest.mark.parametrize("case", HYBRID)
def test_every_hybrid_pod_runs_on_the_tenants_own_nodes(case: str) -> None:
    rendered = render(case)
    specs = pod_specs(rendered)
    assert len(specs) >= 2
    for what, spec in specs:
        assert spec["nodeSelector"] == rendered.values["nodeSelector"], what
        assert spec["tolerations"] == rendered.values["tolerations"], what


@pytest.mark.parametrize("case", BUNDLED)
def test_bundled_database_is_a_statefulset_whose_volume_is_kept(case: str) -> None:
    rendered = render(case)
    database = rendered.values["database"]
    statefulset = rendered.one("StatefulSet", "postgresql")
    service = rendered.one("Service", database["host"])  # the name the pipeline gave the tenant's apps
    assert service["spec"]["ports"][0]["port"] == database["port"]
    assert service["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    assert statefulset["spec"]["serviceName"] == database["host"]
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    # volumeClaimTemplates are immutable: nothing in them may change with the tier, the model or the chart version
    assert not {"helm.sh/chart", *LABELS[1:]} & set(claim["metadata"]["labels"])
    assert (
        rendered.one("Secret", "postgresql-credentials")["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    )
    env = {e["name"]: e for e in rendered.one("Deployment", "api")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATABASE_HOST"]["value"] == database["host"]
    assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "postgresql-credentials"


def test_customer_database_is_reached_not_run() -> None:
    rendered = render("premium-hybrid-customer-db-active")
    assert not rendered.of_kind("StatefulSet")
    assert not rendered.of_kind("Secret")
    env = {
        e["name"]: e.get("value")
        for e in rendered.one("Deployment", "api")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    database = rendered.values["database"]
    assert (env["DATABASE_HOST"], env["DATABASE_PORT"], env["DATABASE_SECRET_ARN"]) == (
        database["host"],
        str(database["port"]),
        database["secretArn"],
    )


@pytest.mark.parametrize("case", [c for c in DEDICATED if c not in WITH_AWS])
def test_no_aws_resources_unless_asked(case: str) -> None:
    assert not [o for o in render(case).objects if ".services.k8s.aws/" in o["apiVersion"]]


# --- network isolation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", DEDICATED)
def test_network_policies_isolate_the_tenant_and_admit_the_ingress_controller(case: str) -> None:
    rendered = render(case)
    values, namespace = rendered.values, rendered.namespace
    policies = rendered.of_kind("NetworkPolicy")
    deny = rendered.one("NetworkPolicy", "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    api, worker = pod_labels(rendered, "api"), pod_labels(rendered, "worker")
    controller = Peer(namespace=values["network"]["ingressNamespace"], pod_labels={"app": "ingress-nginx"})

    def ingress(labels: dict[str, str], peer: Peer, port: int = API_PORT) -> bool:
        return allowed(policies, "Ingress", namespace=namespace, pod_labels=labels, peer=peer, port=port)

    def egress(peer: Peer, port: int, protocol: str = "TCP") -> bool:
        return allowed(
            policies, "Egress", namespace=namespace, pod_labels=worker, peer=peer, port=port, protocol=protocol
        )

    assert ingress(api, controller), "the ingress controller's namespace must reach the api port"
    assert not ingress(api, controller, port=9090), "only the api port"
    assert not ingress(worker, controller), "only the api pods"
    assert not ingress(api, Peer(namespace="ingress-nginx")), "the configured ingress namespace, not a default"
    assert not ingress(api, Peer(namespace="other-tenant")), "other tenants are kept out"
    assert ingress(worker, Peer(namespace=namespace, pod_labels=api), port=9090), "the tenant's pods talk freely"

    dns = Peer(namespace="kube-system", pod_labels={"k8s-app": "kube-dns"})
    assert egress(dns, 53, "UDP") and egress(dns, 53, "TCP")
    assert not egress(dns, 443)
    assert not egress(Peer(ip="8.8.8.8"), 53, "UDP")
    assert egress(Peer(namespace=namespace, pod_labels=api), API_PORT)
    assert not egress(Peer(namespace="other-tenant"), API_PORT)
    assert egress(Peer(ip="10.20.0.7"), 443), "shared endpoint"
    assert not egress(Peer(ip="10.20.0.7"), 80), "shared endpoint, its port only"
    assert egress(Peer(ip="192.168.51.9"), 5432), "extra egress, every CIDR"
    assert not egress(Peer(ip="192.168.52.9"), 5432)
    assert not egress(Peer(ip="52.94.0.10"), 443), "nothing else"
    pod_identity_agent = egress(Peer(ip="169.254.170.23"), 80)
    assert pod_identity_agent == (case in WITH_AWS), "the Pod Identity agent is reachable exactly when needed"


# --- ACK resources ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", WITH_AWS)
def test_siloed_aws_resources_are_ack_objects_scoped_to_the_tenant(case: str) -> None:
    rendered = render(case)
    values, aws = rendered.values, rendered.values["aws"]
    table, queue = rendered.one("Table", "tenant-data"), rendered.one("Queue", "tenant-events")
    for data in (table, queue):
        assert data["metadata"]["annotations"].items() >= RETAIN.items(), data["kind"]
        assert data["metadata"]["annotations"]["services.k8s.aws/region"] == aws["region"]
    assert table["apiVersion"] == "dynamodb.services.k8s.aws/v1alpha1"
    assert queue["apiVersion"] == "sqs.services.k8s.aws/v1alpha1"
    assert table["spec"]["tableName"] == queue["spec"]["queueName"] == values["tenantId"]
    assert table["spec"]["deletionProtectionEnabled"] is True

    role = rendered.one("Role", "tenant-workload")
    assert role["apiVersion"] == "iam.services.k8s.aws/v1alpha1"
    assert len(role["spec"]["name"]) <= 64 and re.fullmatch(r"[\w+=,.@-]+", role["spec"]["name"])
    assert values["tenantId"][:40] in role["spec"]["name"]
    (trust,) = json.loads(role["spec"]["assumeRolePolicyDocument"])["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"]["StringEquals"] == {
        "aws:SourceAccount": aws["accountId"],
        "aws:RequestTag/eks-cluster-name": aws["clusterName"],
        "aws:RequestTag/kubernetes-namespace": rendered.namespace,
        "aws:RequestTag/kubernetes-service-account": "tenant",
    }
    (policy,) = role["spec"]["inlinePolicies"].values()
    table_arn = f"arn:aws:dynamodb:{aws['region']}:{aws['accountId']}:table/{values['tenantId']}"
    queue_arn = f"arn:aws:sqs:{aws['region']}:{aws['accountId']}:{values['tenantId']}"
    statements = json.loads(policy)["Statement"]
    assert {r for s in statements for r in s["Resource"]} == {table_arn, f"{table_arn}/index/*", queue_arn}
    assert all(s["Effect"] == "Allow" and "*" not in "".join(s["Action"]) for s in statements)

    association = rendered.one("PodIdentityAssociation", "tenant-workload")
    assert association["apiVersion"] == "eks.services.k8s.aws/v1alpha1"
    assert association["spec"]["clusterName"] == aws["clusterName"]
    assert association["spec"]["namespace"] == rendered.namespace
    assert association["spec"]["serviceAccount"] == rendered.one("ServiceAccount", "tenant")["metadata"]["name"]
    assert association["spec"]["roleRef"] == {"from": {"name": role["metadata"]["name"]}}
    for what, spec in pod_specs(rendered):
        assert spec["serviceAccountName"] == "tenant", what


# --- quotas -------------------------------------------------------------------------------------------------------

_SUFFIX = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: str) -> float:
    number, suffix = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value)).groups()  # type: ignore[union-attr]
    return float(number) * _SUFFIX.get(suffix, 1)


@pytest.mark.parametrize("case", [c for c in DEDICATED if c.endswith("-active")])
def test_quota_holds_the_tier_profile_through_a_rolling_update(case: str) -> None:
    # The pipeline's tier profile (onboarding.manifests.TIER_PROFILES), with a rolling update's surge of 25%
    # (rounded up) on every Deployment, fits the tier's ResourceQuota, and each container fits the LimitRange.
    rendered = render(case)
    hard = rendered.one("ResourceQuota", "tenant-quota")["spec"]["hard"]
    (limits,) = rendered.one("LimitRange", "tenant-limits")["spec"]["limits"]
    used = {"requests.cpu": 0.0, "requests.memory": 0.0, "limits.memory": 0.0, "pods": 0.0}
    for workload in rendered.workloads():
        replicas = workload["spec"]["replicas"]
        if workload["kind"] == "Deployment":
            replicas += math.ceil(replicas * 0.25)
        used["pods"] += replicas
        for container in workload["spec"]["template"]["spec"]["containers"]:
            resources = container["resources"]
            used["requests.cpu"] += replicas * quantity(resources["requests"]["cpu"])
            used["requests.memory"] += replicas * quantity(resources["requests"]["memory"])
            used["limits.memory"] += replicas * quantity(resources["limits"]["memory"])
            cpu_limit = resources.get("limits", {}).get("cpu", limits["default"]["cpu"])  # LimitRange's default
            assert quantity(resources["requests"]["cpu"]) <= quantity(cpu_limit) <= quantity(limits["max"]["cpu"])
            assert quantity(resources["limits"]["memory"]) <= quantity(limits["max"]["memory"]), container["name"]
    for key, amount in used.items():
        assert amount <= quantity(hard[key]), f"{key}: {amount} > {hard[key]}"


# --- the values contract: wrong values fail `helm template` -------------------------------------------------------


def _without(values: dict[str, Any], path: str) -> dict[str, Any]:
    broken = copy.deepcopy(values)
    *parents, last = path.split(".")
    node = broken
    for key in parents:
        node = node[key]
    del node[last]
    return broken


def _with(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(values)
    *parents, last = path.split(".")
    node = broken
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return broken


SILOED = tenant_values("premium", "siloed")
HYBRID_VALUES = tenant_values("premium", "hybrid")
POOLED_VALUES = tenant_values("basic", "pooled")

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    # unknown keys, at every level
    "unknown top-level key": (_with(SILOED, "deploymentmodel", "siloed"), "deploymentmodel"),
    "unknown resources key": (_with(SILOED, "resources.cpuu", "1"), "cpuu"),
    "unknown image key": (_with(SILOED, "images.api.tag", "latest"), "tag"),
    "unknown network key": (_with(SILOED, "network.egress", []), "egress"),
    "unknown aws key": (_with(SILOED, "aws.account", "111122223333"), "account"),
    # wrong types and values
    "replicas as a string": (_with(SILOED, "resources.replicas", "2"), "replicas"),
    "negative replicas": (_with(SILOED, "resources.replicas", -1), "replicas"),
    "suspended as a string": (_with(SILOED, "suspended", "yes"), "suspended"),
    "requestsPerSecond zero": (_with(SILOED, "resources.requestsPerSecond", 0), "requestsPerSecond"),
    "cpu not a quantity": (_with(SILOED, "resources.cpu", "two"), "cpu"),
    "unknown tier": (_with(SILOED, "tier", "gold"), "tier"),
    "unknown model": (_with(SILOED, "deploymentModel", "shared"), "deploymentModel"),
    "tenantId not a DNS label": (_with(SILOED, "tenantId", "T_Acme"), "tenantId"),
    "tenantId too long": (_with(SILOED, "tenantId", "t" * 64), "tenantId"),
    "tenantName too long": (_with(SILOED, "tenantName", "x" * 101), "tenantName"),
    "host not a hostname": (_with(SILOED, "host", "https://acme.example.com"), "host"),
    "digest not sha256": (_with(SILOED, "images.api.digest", "sha256:abc"), "digest"),
    "image by tag": (_with(SILOED, "images.api.image", "registry.example.com/saas/api:latest"), "image"),
    "image key not a DNS label": (_with(SILOED, "images.Api", SILOED["images"]["api"]), "Api"),
    "no images": (_with(SILOED, "images", {}), "images"),
    "protocol not TCP or UDP": (
        _with(SILOED, "network.sharedEndpoints", [{"cidr": "10.0.0.0/8", "port": 443, "protocol": "SCTP"}]),
        "protocol",
    ),
    "cidr not a CIDR": (_with(SILOED, "network.extraEgress", [{"cidrs": ["10.0.0.0"], "port": 443}]), "cidrs"),
    "account id not 12 digits": (
        _with(SILOED, "aws", {"resources": True, "accountId": "1234", "region": "eu-west-1", "clusterName": "c"}),
        "accountId",
    ),
    "toleration with an unknown field": (
        _with(HYBRID_VALUES, "tolerations", [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "x": 1}]),
        "x",
    ),
    # rules across values
    "image that is not repository@digest": (
        _with(SILOED, "images.api.image", SILOED["images"]["worker"]["image"]),
        "images.api.image must be repository@digest",
    ),
    "dedicated tenant without an api image": (_without(SILOED, "images.api"), "api"),
    "hybrid without a nodeSelector": (_with(HYBRID_VALUES, "nodeSelector", {}), "nodeSelector"),
    "hybrid without a database": (_without(HYBRID_VALUES, "database"), "database"),
    "customer database without its secret": (
        _with(HYBRID_VALUES, "database", {"mode": "customer", "host": "db.example.com", "port": 5432}),
        "secretArn",
    ),
    "bundled database with a secret": (
        _with(HYBRID_VALUES, "database.secretArn", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:x"),
        "secretArn",
    ),
    "bundled database host too long for a Service": (_with(HYBRID_VALUES, "database.host", "d" * 64), "host"),
    "bundled database named like the api Service": (_with(HYBRID_VALUES, "database.host", "api"), "host"),
    "aws resources for a pooled tenant": (
        _with(
            POOLED_VALUES,
            "aws",
            {"resources": True, "accountId": "111122223333", "region": "eu-west-1", "clusterName": "c"},
        ),
        "deploymentModel",
    ),
    "database for a pooled tenant": (_with(POOLED_VALUES, "database", {"mode": "bundled"}), "/database"),
    "aws resources without an account": (_with(SILOED, "aws", {"resources": True}), "accountId"),
}
REQUIRED = ("tenantId", "tenantName", "tier", "deploymentModel", "host", "resources", "images", "resources.cpu")


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_values_fail_helm_template(name: str) -> None:
    values, mentioned = INVALID[name]
    result = template(values)
    assert result.returncode != 0, f"{name}: rendered anyway\n{result.stdout[:2000]}"
    assert mentioned in result.stderr, report(result)


@pytest.mark.parametrize("key", REQUIRED)
def test_missing_required_value_fails_helm_template(key: str) -> None:
    result = template(_without(SILOED, key))
    assert result.returncode != 0, f"rendered without {key}"
    assert "missing propert" in result.stderr and key.rpartition(".")[2] in result.stderr, report(result)


# --- the validator itself -----------------------------------------------------------------------------------------


def test_validate_object_rejects_what_the_cluster_would_refuse_or_prune() -> None:
    deployment = copy.deepcopy(render("premium-siloed-active").one("Deployment", "api"))
    validate_object(deployment)
    unknown = copy.deepcopy(deployment)
    unknown["spec"]["template"]["spec"]["containers"][0]["imagePullSecret"] = "typo"
    with pytest.raises(ManifestInvalid, match="imagePullSecret"):
        validate_object(unknown)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "2"
    with pytest.raises(ManifestInvalid, match="replicas"):
        validate_object(wrong_type)
    bad_label = copy.deepcopy(deployment)
    bad_label["metadata"]["labels"]["onboarding.saas.aws/tier"] = "not a label value"
    with pytest.raises(ManifestInvalid, match="label value"):
        validate_object(bad_label)
    with pytest.raises(ManifestInvalid, match="no kind 'Deploymnet'"):
        validate_object({**deployment, "kind": "Deploymnet"})
    service = copy.deepcopy(render("premium-siloed-active").one("Service", "api"))
    service["metadata"]["name"] = "1api"
    with pytest.raises(ManifestInvalid, match="DNS-1035"):
        validate_object(service)


def test_validate_object_checks_ack_and_flux_kinds_against_their_crds() -> None:
    table = copy.deepcopy(render("premium-siloed-aws-active").one("Table", "tenant-data"))
    validate_object(table)
    table["spec"]["billingMod"] = "PAY_PER_REQUEST"
    with pytest.raises(ManifestInvalid, match="billingMod"):
        validate_object(table)
    role = copy.deepcopy(render("premium-siloed-aws-active").one("Role", "tenant-workload"))
    role["spec"]["inlinePolicies"] = [role["spec"]["inlinePolicies"]]
    with pytest.raises(ManifestInvalid, match="inlinePolicies"):
        validate_object(role)
    release: dict[str, Any] = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "t-acme", "namespace": "t-acme"},
        "spec": {
            "interval": "5m",
            "chart": {"spec": {"chart": "tenant", "sourceRef": {"kind": "HelmRepository", "name": "saas"}}},
        },
    }
    validate_object(release)
    release["spec"]["valuez"] = {}
    with pytest.raises(ManifestInvalid, match="valuez"):
        validate_object(release)


def test_missing_helm_fails_the_tests_with_the_way_to_install_it(tmp_path: Any) -> None:
    with pytest.raises(pytest.fail.Exception, match="make test"):
        find_helm(venv_bin=tmp_path, search_path=str(tmp_path))


# --- make charts --------------------------------------------------------------------------------------------------


def test_make_charts_packages_and_pushes_the_chart_to_an_oci_registry(tmp_path: Any) -> None:
    from onboarding_local.registry import Registry

    registry = Registry(tmp_path, "charts").start()
    try:
        target = f"oci://{registry.host}/saas"
        built = tmp_path / "built"
        env = {**os.environ, **helm_env()}
        make = ["make", "-s", "charts", f"CHART_REGISTRY={target}", "CHART_REGISTRY_PLAIN_HTTP=1"]
        result = subprocess.run(
            [*make, f"CHART_BUILD_DIR={built}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, report(result)
        (package,) = built.glob("*.tgz")
        assert package.name == "tenant-1.0.0.tgz"
        with tarfile.open(package) as archive:
            names = archive.getnames()
        assert "tenant/values.schema.json" in names and "tenant/README.md" in names
        assert not [n for n in names if n.startswith("tenant/ci/")], "example values stay out of the package"

        shown = helm("show", "chart", f"{target}/tenant", "--version", "1.0.0", "--plain-http")
        assert shown.returncode == 0, report(shown)
        chart = yaml.safe_load(shown.stdout)
        assert (chart["apiVersion"], chart["name"], chart["version"]) == ("v2", "tenant", "1.0.0")
        # what Flux would pull renders like the working tree
        pulled = helm(
            "template", "t-acme-0123456789", f"{target}/tenant", "--version", "1.0.0", "--plain-http",
            "--namespace", "t-acme-0123456789", "--values", CHART / "ci" / "siloed-values.yaml",
        )  # fmt: skip
        assert pulled.returncode == 0, report(pulled)
        assert "kind: PodIdentityAssociation" in pulled.stdout
    finally:
        registry.stop()
