"""The GitOps bootstrap (``onboarding.bootstrap`` and ``tenant-onboarding gitops-bootstrap``): valid objects, built
as data, the exact layout, and bad input refused with the flag named."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.bootstrap import (
    BootstrapOptions,
    InvalidBootstrapOption,
    bootstrap_documents,
    bootstrap_files,
    tenant_alert,
)
from onboarding.cli import main
from tests.utils.k8s import validate_object

REPO = Path(__file__).resolve().parents[2]
ECR = "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts"
GHCR = "oci://ghcr.io/example-saas/charts"
RECEIVER = "https://abcdefghij.lambda-url.eu-west-1.on.aws/"


def options(**overrides: Any) -> BootstrapOptions:
    values: dict[str, Any] = {"cluster": "production", "chart_registry": ECR, "receiver_url": RECEIVER}
    return BootstrapOptions(**{**values, **overrides})


def objects(opts: BootstrapOptions) -> list[dict[str, Any]]:
    return [doc for documents in bootstrap_documents(opts).values() for doc in documents]


def one(opts: BootstrapOptions, kind: str, name: str) -> dict[str, Any]:
    (found,) = [doc for doc in objects(opts) if doc["kind"] == kind and doc["metadata"]["name"] == name]
    return found


OPTION_SETS = {
    "ecr": options(),
    "generic-registry": options(chart_registry=GHCR),
    "ecr-explicit-aws": options(chart_registry_provider="aws"),
    "registry-with-port": options(chart_registry="oci://registry.internal:5000/saas/charts", interval="1m30s"),
    "other-names": options(cluster="eu-1", ingress_namespace="kong", gitops_branch="release/prod"),
    "local-stack": options(chart_registry="oci://127.0.0.1:5000/charts", receiver_url="http://127.0.0.1/flux"),
}


# ------------------------------------------------------------------ what is written


def test_the_layout_is_exactly_the_documented_one() -> None:
    assert sorted(bootstrap_files(options(cluster="eu-1"))) == [
        "clusters/eu-1/infrastructure.yaml",
        "clusters/eu-1/tenants.yaml",
        "infrastructure/notifications.yaml",
        "infrastructure/pool.yaml",
        "infrastructure/tenant-charts.yaml",
        "remote/README.md",
        "tenants/README.md",
    ]
    # No kustomization.yaml: kustomize-controller generates one per directory, so tenant files need no index.
    assert not any(path.endswith("kustomization.yaml") for path in bootstrap_files(options()))


@pytest.mark.parametrize("name", sorted(OPTION_SETS))
def test_every_object_is_valid(name: str) -> None:
    for obj in objects(OPTION_SETS[name]):
        validate_object(obj)


@pytest.mark.parametrize("name", sorted(OPTION_SETS))
def test_each_file_is_its_objects_serialized_and_reads_back_the_same(name: str) -> None:
    opts = OPTION_SETS[name]
    files = bootstrap_files(opts)
    for path, documents in bootstrap_documents(opts).items():
        assert [doc for doc in yaml.safe_load_all(files[path]) if doc is not None] == documents


def test_the_cluster_kustomizations_reconcile_infrastructure_then_tenants_with_prune_and_health_checks() -> None:
    opts = options(interval="2m")
    infrastructure = one(opts, "Kustomization", "tenant-infrastructure")
    tenants = one(opts, "Kustomization", "tenants")
    for kustomization in (infrastructure, tenants):
        assert kustomization["metadata"]["namespace"] == "flux-system"
        spec = kustomization["spec"]
        assert spec["prune"] is True and spec["wait"] is True and spec["interval"] == "2m"
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}
        assert "postBuild" not in spec  # substitution would rewrite a tenant name containing ${...}
    assert infrastructure["spec"]["path"] == "./infrastructure"
    assert tenants["spec"]["path"] == "./tenants"
    assert tenants["spec"]["dependsOn"] == [{"name": "tenant-infrastructure"}]
    assert tenants["spec"]["timeout"] == "10m"
    cluster_files = [p for p in bootstrap_documents(opts) if p.startswith("clusters/production/")]
    assert sorted(cluster_files) == ["clusters/production/infrastructure.yaml", "clusters/production/tenants.yaml"]


@pytest.mark.parametrize(
    ("registry", "provider", "expected"),
    [
        (ECR, None, "aws"),
        (ECR, "aws", "aws"),
        ("oci://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/charts", None, "aws"),
        (GHCR, None, None),
        (GHCR, "generic", None),
    ],
)
def test_the_chart_source_is_an_oci_helm_repository_signed_in_to_ecr_with_aws(
    registry: str, provider: str | None, expected: str | None
) -> None:
    source = one(options(chart_registry=registry, chart_registry_provider=provider), "HelmRepository", "tenant-charts")
    assert source["metadata"]["namespace"] == "flux-system"
    assert source["spec"]["type"] == "oci"
    assert source["spec"]["url"] == registry
    assert source["spec"].get("provider") == expected
    assert "secretRef" not in source["spec"]


def test_the_pool_namespace_is_labelled_kept_and_open_only_to_itself_and_the_ingress_controller() -> None:
    opts = options(ingress_namespace="kong")
    namespace = one(opts, "Namespace", "pool")
    assert namespace["metadata"]["labels"] == {"onboarding.saas.aws/pool": "true"}
    # Removing pool.yaml must not garbage-collect the namespace of every pooled tenant.
    assert namespace["metadata"]["annotations"] == {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
    policy = one(opts, "NetworkPolicy", "pool-ingress")
    assert policy["metadata"]["namespace"] == "pool"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert peers == [
        {"podSelector": {}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kong"}}},
    ]


def test_the_provider_signs_events_for_the_receiver_with_a_secret_it_does_not_write() -> None:
    opts = options()
    provider = one(opts, "Provider", "tenant-onboarding")
    assert provider["apiVersion"] == "notification.toolkit.fluxcd.io/v1beta3"
    assert provider["metadata"]["namespace"] == "flux-system"
    assert provider["spec"] == {
        "type": "generic-hmac",
        "address": RECEIVER,
        "secretRef": {"name": "tenant-onboarding-receiver"},
    }
    assert not [obj for obj in objects(opts) if obj["kind"] == "Secret"]


def test_the_alert_sends_every_verdict_on_pooled_releases_and_both_kustomizations() -> None:
    alert = one(options(), "Alert", "tenant-onboarding")
    assert alert["apiVersion"] == "notification.toolkit.fluxcd.io/v1beta3"
    assert alert["metadata"]["namespace"] == "flux-system"
    spec = alert["spec"]
    assert spec["providerRef"] == {"name": "tenant-onboarding"}
    assert spec["eventSeverity"] == "info"  # successes are verdicts too
    assert {(s["kind"], s["name"], s["namespace"]) for s in spec["eventSources"]} == {
        ("HelmRelease", "*", "pool"),
        ("Kustomization", "tenants", "flux-system"),
        ("Kustomization", "tenant-infrastructure", "flux-system"),
    }
    # notification-controller matches a source's namespace exactly: '*' would match no event at all.
    assert all(source["namespace"] != "*" for source in spec["eventSources"])
    assert "inclusionList" not in spec and "exclusionList" not in spec
    assert spec["eventMetadata"] == {"cluster": "production"}


def test_a_tenant_with_its_own_namespace_gets_an_alert_beside_the_provider() -> None:
    alert = tenant_alert("t-acme-0123456789", "production")
    validate_object(alert)
    assert alert["metadata"] == {
        "name": "tenant-onboarding-t-acme-0123456789",
        "namespace": "flux-system",
        # kept when the tenant's file goes, so its HelmRelease's UninstallSucceeded still reaches the receiver
        "annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"},
    }
    assert alert["spec"]["providerRef"] == {"name": "tenant-onboarding"}
    assert alert["spec"]["eventSources"] == [{"kind": "HelmRelease", "name": "*", "namespace": "t-acme-0123456789"}]
    with pytest.raises(InvalidBootstrapOption):
        tenant_alert("Not A Label", "production")


def test_the_readmes_are_fixed_text() -> None:
    files = bootstrap_files(options())
    assert (
        files["tenants/README.md"] == "One file per tenant, written by the onboarding pipeline. Do not edit by hand.\n"
    )
    assert "remote/<tenantId>/" in files["remote/README.md"]
    assert "no Flux Kustomization points at it" in files["remote/README.md"]


# ------------------------------------------------------------------ no user input is pasted into text


def test_values_with_yaml_syntax_are_scalars_in_the_files_not_yaml() -> None:
    # A valid URL whose path is full of characters YAML would read as syntax if they were pasted into text.
    receiver = "https://receiver.example.com/flux/a:b/'q'/-x/*y/&z/!w/%20/@v,=u;t/#"
    with pytest.raises(InvalidBootstrapOption):
        options(receiver_url=receiver)  # a fragment is refused
    receiver = receiver.removesuffix("/#")
    opts = options(receiver_url=receiver, chart_registry="oci://registry.example.com/a--b/c__d/e.f")
    files = bootstrap_files(opts)
    (provider,) = [
        doc
        for doc in yaml.safe_load_all(files["infrastructure/notifications.yaml"])
        if doc and doc["kind"] == "Provider"
    ]
    assert provider["spec"]["address"] == receiver
    (source,) = [doc for doc in yaml.safe_load_all(files["infrastructure/tenant-charts.yaml"]) if doc]
    assert source["spec"]["url"] == "oci://registry.example.com/a--b/c__d/e.f"


def test_the_readmes_never_contain_an_option_value() -> None:
    files = bootstrap_files(options(cluster="zz-cluster", ingress_namespace="zz-ingress", gitops_branch="zz-branch"))
    for path in ("tenants/README.md", "remote/README.md"):
        assert not any(value in files[path] for value in ("zz-", "lambda-url", "dkr.ecr"))


def test_the_builders_are_pure() -> None:
    assert bootstrap_files(options()) == bootstrap_files(options())
    first = bootstrap_documents(options())
    first["infrastructure/pool.yaml"][0]["metadata"]["annotations"].clear()
    assert bootstrap_documents(options())["infrastructure/pool.yaml"][0]["metadata"]["annotations"]


# ------------------------------------------------------------------ bad input names the flag

BAD_OPTIONS = [
    ("cluster", "Production", "--cluster"),
    ("cluster", "prod_1", "--cluster"),
    ("cluster", "-prod", "--cluster"),
    ("cluster", "a" * 64, "--cluster"),
    ("cluster", "../etc", "--cluster"),
    ("cluster", "", "--cluster"),
    ("chart_registry", "https://charts.example.com/saas", "--chart-registry"),
    ("chart_registry", "127.0.0.1:5000/charts", "--chart-registry"),
    ("chart_registry", "oci://registry.example.com", "--chart-registry"),
    ("chart_registry", "oci://registry.example.com/", "--chart-registry"),
    ("chart_registry", "oci://registry.example.com/charts/", "--chart-registry"),
    ("chart_registry", "oci://registry.example.com/Charts", "--chart-registry"),
    ("chart_registry", "oci://Registry.example.com/charts", "--chart-registry"),
    ("chart_registry", "oci://user:pass@registry.example.com/charts", "--chart-registry"),
    ("chart_registry", "oci://registry.example.com/charts?x=1", "--chart-registry"),
    ("chart_registry", "oci://registry.example.com:99999/charts", "--chart-registry"),
    ("chart_registry", "oci://registry.example.com/charts\nfoo: bar", "--chart-registry"),
    ("chart_registry", "oci://registry.example.com/char ts", "--chart-registry"),
    ("chart_registry", "oci://régistry.example.com/charts", "--chart-registry"),
    ("chart_registry_provider", "gcp", "--chart-registry-provider"),
    ("receiver_url", "ftp://receiver.example.com/", "--receiver-url"),
    ("receiver_url", "http://receiver.example.com/flux", "--receiver-url"),
    ("receiver_url", "receiver.example.com/flux", "--receiver-url"),
    ("receiver_url", "https://token:x@receiver.example.com/", "--receiver-url"),
    ("receiver_url", "https://receiver.example.com/flux?token=x", "--receiver-url"),
    ("receiver_url", "https://receiver.example.com/fl\tux", "--receiver-url"),
    ("receiver_url", 'https://receiver.example.com/"x"', "--receiver-url"),
    ("receiver_url", "https://" + "a" * 2048 + ".com/", "--receiver-url"),
    ("interval", "5", "--interval"),
    ("interval", "5 m", "--interval"),
    ("interval", "0m", "--interval"),
    ("interval", "1d", "--interval"),
    ("ingress_namespace", "Ingress", "--ingress-namespace"),
    ("ingress_namespace", "ingress.nginx", "--ingress-namespace"),
    ("gitops_branch", "", "--gitops-branch"),
    ("gitops_branch", "-main", "--gitops-branch"),
    ("gitops_branch", "a..b", "--gitops-branch"),
    ("gitops_branch", "main.lock", "--gitops-branch"),
    ("gitops_branch", "ma in", "--gitops-branch"),
]


@pytest.mark.parametrize(
    ("field", "value", "flag"), BAD_OPTIONS, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_OPTIONS)]
)
def test_bad_input_is_refused_with_the_flag_named_on_one_line(field: str, value: str, flag: str) -> None:
    with pytest.raises(InvalidBootstrapOption) as caught:
        options(**{field: value})
    assert caught.value.option == flag
    message = str(caught.value)
    assert message.startswith(f"{flag}: ")
    assert "\n" not in message and len(message) < 300


@pytest.mark.parametrize(
    ("registry", "provider"),
    [(GHCR, "aws"), ("oci://public.ecr.aws/example/charts", "aws"), (ECR, "generic")],
)
def test_a_provider_that_cannot_sign_in_to_the_registry_is_refused(registry: str, provider: str) -> None:
    with pytest.raises(InvalidBootstrapOption) as caught:
        options(chart_registry=registry, chart_registry_provider=provider)
    assert caught.value.option == "--chart-registry-provider"


# ------------------------------------------------------------------ the command


def argv(out: Path, *extra: str) -> list[str]:
    return [
        "gitops-bootstrap",
        "--cluster",
        "production",
        "--chart-registry",
        ECR,
        "--receiver-url",
        RECEIVER,
        "--out",
        str(out),
        *extra,
    ]


def run(args: list[str]) -> int:
    """The exit status of the command, whether main returns it or argparse exits with it."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


def written(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()}


def test_the_command_writes_the_bootstrap_and_lists_each_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gitops"
    assert main(argv(out)) == 0
    assert written(out) == bootstrap_files(options())
    printed = capsys.readouterr().out.splitlines()
    assert printed == [str(out / path) for path in sorted(bootstrap_files(options()))]


def test_the_command_passes_every_option_on(tmp_path: Path) -> None:
    extra = ["--chart-registry-provider", "aws", "--gitops-branch", "prod", "--interval", "3m"]
    extra += ["--ingress-namespace", "kong"]
    assert main(argv(tmp_path, *extra)) == 0
    expected = options(chart_registry_provider="aws", gitops_branch="prod", interval="3m", ingress_namespace="kong")
    assert written(tmp_path) == bootstrap_files(expected)


def test_running_it_again_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv(tmp_path)) == 0
    capsys.readouterr()
    assert main(argv(tmp_path)) == 0
    assert all(line.endswith("(unchanged)") for line in capsys.readouterr().out.splitlines())


def test_a_differing_file_is_not_overwritten_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edited = tmp_path / "infrastructure" / "pool.yaml"
    edited.parent.mkdir(parents=True)
    edited.write_text("# mine\n")

    assert main(argv(tmp_path)) == 1
    err = capsys.readouterr().err.strip()
    assert "infrastructure/pool.yaml" in err and "--force" in err and "\n" not in err
    assert written(tmp_path) == {"infrastructure/pool.yaml": "# mine\n"}  # nothing written at all

    assert main(argv(tmp_path, "--force")) == 0
    assert written(tmp_path) == bootstrap_files(options())


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--chart-registry", "https://charts.example.com/saas"], "--chart-registry"),
        (["--cluster", "Prod_1"], "--cluster"),
        (["--receiver-url", "http://receiver.example.com/"], "--receiver-url"),
        (["--interval", "soon"], "--interval"),
        (["--chart-registry-provider", "azure"], "--chart-registry-provider"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    assert run([*argv(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err
    assert not (tmp_path / "out").exists()


def test_a_missing_required_flag_is_named_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["gitops-bootstrap", "--cluster", "production"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--chart-registry" in err and "--receiver-url" in err


def test_out_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert main(argv(tmp_path / "file")) == 2
    assert "--out" in capsys.readouterr().err


def test_an_unwritable_checkout_fails_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "infrastructure").write_text("a file where the bootstrap needs a directory\n")
    assert main(argv(tmp_path, "--force")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err


def test_the_console_script_is_declared() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["tenant-onboarding"] == "onboarding.cli:main"
