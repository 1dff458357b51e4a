"""The tenant's GitOps manifests: valid Flux objects, in the right place, whatever the tenant is called."""

from __future__ import annotations

import copy
import posixpath
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from pydantic import ValidationError

from onboarding.bootstrap import BootstrapOptions, bootstrap_files
from onboarding.contract.common import DeploymentModel, Tier
from onboarding.contract.signup import SignupRequested
from onboarding.errors import InvalidSignup
from onboarding.identity import derive_tenant_id
from onboarding.manifests import GitOpsLayout, render_tenant, tenant_files, tenant_path, tenant_paths, tenant_shard
from onboarding.records import ImageRef, TenantSpec
from onboarding_local.gitserver import LOCAL_CHART_REGISTRY, LOCAL_RECEIVER_URL, seed_files
from tests.utils.flux import ManifestInvalid, assert_valid, crd_for, validation_errors
from tests.utils.k8s import validate_object
from tests.utils.release import RELEASE, spec_of

LAYOUT = GitOpsLayout()  # the default: sharded
FLAT = GitOpsLayout(tenant_shards=False)
ANNOTATION = "onboarding.saas.aws/tenant-name"

# Names a customer may type, several of which YAML would read as something else if written unquoted.
VALID_NAMES = [
    "Acme Analytics",
    "Café & Co: #1 'quoted' \"dq\" — ünïcödé 日本",
    "yes",
    "No",
    "on",
    "null",
    "~ 1",
    "0x1F",
    "1e3",
    "0o17",
    "2026-11-24",
    "- item",
    "? key",
    "key: value",
    "a #comment",
    "--- 1",
    "... 1",
    "*alias1",
    "&anchor1",
    "!!str 1",
    "%YAML 1",
    "@at1",
    "`tick1`",
    "{a: 1}",
    "[1, 2]",
    "| block 1",
    "> folded 1",
    "back\\slash 1",
    "🚀 Rocket Ltd",
    "Ω" * 100,
    # longer than PyYAML's line width (80): the emitter folds it across lines, which must be lossless.
    "Société Générale d'Exploitation des Données & Systèmes: \"Nord\" — Région 日本 #42 'x' {y} [z]",
]
INVALID_NAMES = [
    "Acme: {inc}\n- x",
    "tab\tinside",
    "nul\x00byte",
    "zero\u200bwidth",
    "\ufeffBOM Ltd",
    "next\x85line",
    "   ",
    "!!!",
    "x" * 101,
]
# (tier, explicit deploymentModel or None for the tier's default, the model that results)
TIER_MODELS = [
    (Tier.BASIC, None, DeploymentModel.POOLED),
    (Tier.PREMIUM, None, DeploymentModel.SILOED),
    (Tier.ADVANCED, None, DeploymentModel.SILOED),
    (Tier.BASIC, DeploymentModel.SILOED, DeploymentModel.SILOED),
    (Tier.PREMIUM, DeploymentModel.POOLED, DeploymentModel.POOLED),
    (Tier.ADVANCED, DeploymentModel.POOLED, DeploymentModel.POOLED),
]


def signup(tenant_name: str = "Acme Analytics", tier: Tier = Tier.BASIC, **extra: Any) -> SignupRequested:
    return SignupRequested(
        signup_id="signup-0001", tenant_name=tenant_name, admin_email="ops@acme.example", tier=tier, **extra
    )


def rendered(tenant_id: str, request: SignupRequested) -> tuple[str, list[dict[str, Any]]]:
    files = tenant_files(spec_of(tenant_id, request), LAYOUT)
    assert len(files) == 1, f"one file per tenant expected, got {sorted(files)}"
    ((path, content),) = files.items()
    assert isinstance(content, bytes)
    return path, list(yaml.safe_load_all(content.decode("utf-8")))


def helm_release(documents: list[dict[str, Any]]) -> dict[str, Any]:
    releases = [d for d in documents if d["kind"] == "HelmRelease"]
    assert len(releases) == 1, f"exactly one HelmRelease expected, got {len(releases)}"
    return releases[0]


# ------------------------------------------------------------------ rendering


@pytest.mark.parametrize("name", VALID_NAMES, ids=range(len(VALID_NAMES)))
@pytest.mark.parametrize(("tier", "requested", "model"), TIER_MODELS, ids=lambda v: getattr(v, "value", str(v)))
def test_rendered_manifests_are_valid_flux_objects_and_keep_the_name_exactly(
    name: str, tier: Tier, requested: DeploymentModel | None, model: DeploymentModel
) -> None:
    request = signup(name, tier, deployment_model=requested)
    assert request.tenant_name == name, "test names must already be in normal form"
    tenant_id = derive_tenant_id(f"signup-{tier.value}-{name}")

    path, documents = rendered(tenant_id, request)

    for document in documents:
        assert_valid(document)
    release = helm_release(documents)
    assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    assert release["metadata"]["name"] == tenant_id
    # Not checked by the schema (a CEL rule of the CRD): exactly one of chart and chartRef.
    assert "chart" in release["spec"]
    assert "chartRef" not in release["spec"]
    # The name comes back as the same string, in both places, with no YAML injection.
    assert release["spec"]["values"]["tenantName"] == name
    assert release["metadata"]["annotations"][ANNOTATION] == name
    assert release["spec"]["values"]["tenantId"] == tenant_id
    assert release["spec"]["values"]["tier"] == tier.value
    assert release["spec"]["values"]["deploymentModel"] == model.value
    assert path == f"tenants/{tenant_shard(tenant_id)}/{tenant_id}.yaml"


@pytest.mark.parametrize("tier", list(Tier), ids=lambda t: t.value)
def test_siloed_tenant_gets_its_own_namespace_and_the_release_targets_it(tier: Tier) -> None:
    tenant_id = derive_tenant_id(f"siloed-{tier.value}")
    _, documents = rendered(tenant_id, signup(tier=tier, deployment_model=DeploymentModel.SILOED))

    namespaces = [d for d in documents if d["kind"] == "Namespace"]
    assert [ns["metadata"]["name"] for ns in namespaces] == [tenant_id]
    assert documents.index(namespaces[0]) < documents.index(helm_release(documents)), "Namespace before its release"
    release = helm_release(documents)
    assert release["metadata"]["namespace"] == tenant_id
    assert release["spec"]["targetNamespace"] == tenant_id
    assert release["spec"]["chart"]["spec"]["chart"] == LAYOUT.chart == "tenant"
    assert release["spec"]["chart"]["spec"]["version"] == RELEASE.chart_version


@pytest.mark.parametrize("tier", list(Tier), ids=lambda t: t.value)
def test_pooled_tenant_goes_to_the_pool_namespace(tier: Tier) -> None:
    tenant_id = derive_tenant_id(f"pooled-{tier.value}")
    _, documents = rendered(tenant_id, signup(tier=tier, deployment_model=DeploymentModel.POOLED))

    assert [d["kind"] for d in documents] == ["HelmRelease"], "a pooled tenant creates no Namespace"
    release = helm_release(documents)
    assert release["metadata"]["namespace"] == LAYOUT.pool_namespace
    assert release["spec"]["targetNamespace"] == LAYOUT.pool_namespace
    assert release["spec"]["chart"]["spec"]["chart"] == LAYOUT.chart == "tenant"


def test_a_non_default_layout_is_honoured() -> None:
    layout = GitOpsLayout(pool_namespace="shared-pool", tenant_domain="apps.example.org")
    tenant_id = derive_tenant_id("layout")
    documents = render_tenant(spec_of(tenant_id, signup(tier=Tier.BASIC), chart_version="2.3.4"), layout)

    for document in documents:
        assert_valid(document)
    release = helm_release(documents)
    assert release["spec"]["targetNamespace"] == "shared-pool"
    assert release["spec"]["chart"]["spec"]["version"] == "2.3.4"  # exactly the spec's, never a range
    assert release["spec"]["values"]["host"] == f"{tenant_id}.apps.example.org"


@pytest.mark.parametrize(("tier", "requested", "model"), TIER_MODELS, ids=lambda v: getattr(v, "value", str(v)))
def test_tenant_paths_cover_every_file_the_tenant_gets(
    tier: Tier, requested: DeploymentModel | None, model: DeploymentModel
) -> None:
    tenant_id = derive_tenant_id(f"paths-{tier.value}-{model.value}")
    flat = tenant_files(spec_of(tenant_id, signup(tier=tier, deployment_model=requested)), FLAT)

    assert set(flat) <= set(tenant_paths(tenant_id)), "compensation and offboarding would leave files behind"
    shard = f"tenants/{tenant_shard(tenant_id)}/{tenant_id}.yaml"
    assert tenant_paths(tenant_id) == [f"tenants/{tenant_id}.yaml", f"remote/{tenant_id}/release.yaml", shard]
    sharded = tenant_files(spec_of(tenant_id, signup(tier=tier, deployment_model=requested)), LAYOUT)
    assert set(sharded) <= set(tenant_paths(tenant_id))
    assert list(sharded) == (list(flat) if model is DeploymentModel.REMOTE else [shard])


def test_the_default_layout_is_sharded_and_a_path_without_a_layout_follows_it() -> None:
    tenant_id = derive_tenant_id("default-layout")
    shard = f"tenants/{tenant_shard(tenant_id)}/{tenant_id}.yaml"
    assert GitOpsLayout().tenant_shards
    assert tenant_path(tenant_id) == tenant_path(tenant_id, GitOpsLayout()) == shard
    assert tenant_path(tenant_id, FLAT) == f"tenants/{tenant_id}.yaml"


@pytest.mark.parametrize(("value", "shards"), [("true", True), ("false", False)])
def test_the_template_parameter_chooses_the_layout(monkeypatch: pytest.MonkeyPatch, value: str, shards: bool) -> None:
    from onboarding.settings import GitOpsSettings

    # Given GITOPS_LAYOUT__TENANT_SHARDS as template.yaml passes GitOpsTenantShards (AllowedValues "true", "false")
    monkeypatch.setenv("GITOPS_REPO_URL", "git://127.0.0.1/gitops.git")
    monkeypatch.setenv("GITOPS_BRANCH", "main")
    monkeypatch.setenv("GITOPS_LAYOUT__TENANT_SHARDS", value)
    # Then the layout the functions write with is the one the parameter names
    assert GitOpsSettings().gitops_layout.tenant_shards is shards


def test_tenant_files_are_under_the_directory_the_seeded_kustomization_reconciles() -> None:
    tenant_id = derive_tenant_id("reconciled")
    (path,) = tenant_files(released(spec_of(tenant_id, signup())), LAYOUT)
    reconciled = [posixpath.normpath(doc["spec"]["path"]) for doc in seeded("Kustomization")]
    # Below the tenants Kustomization's directory (its generated kustomization takes every subdirectory)
    (directory,) = [d for d in reconciled if path.startswith(d + "/")]
    assert directory == "tenants" and posixpath.dirname(path) == f"tenants/{tenant_shard(tenant_id)}"
    # The directory is in the seed from the start (its README keeps it), so the Kustomization's path exists.
    assert any(seeded_path.startswith(directory + "/") for seeded_path in seed_files())


def test_the_chart_source_of_every_release_is_seeded_in_the_gitops_repository() -> None:
    sources = {
        (doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace"))
        for docs in seeded_objects().values()
        for doc in docs
    }
    assert ("HelmRepository", "tenant-charts", "flux-system") in sources
    for model in (DeploymentModel.POOLED, DeploymentModel.SILOED):
        documents = render_tenant(
            released(spec_of(derive_tenant_id(model.value), signup(deployment_model=model))), LAYOUT
        )
        ref = helm_release(documents)["spec"]["chart"]["spec"]["sourceRef"]
        assert (ref["kind"], ref["name"], ref["namespace"]) in sources


def test_the_pool_namespace_pooled_releases_go_to_is_seeded() -> None:
    documents = render_tenant(released(spec_of(derive_tenant_id("pool-seeded"), signup())), LAYOUT)
    namespace = helm_release(documents)["metadata"]["namespace"]
    assert namespace in {doc["metadata"]["name"] for doc in seeded("Namespace")}


@pytest.mark.parametrize("name", INVALID_NAMES, ids=range(len(INVALID_NAMES)))
def test_names_with_control_characters_or_nothing_readable_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        signup(name)


def test_whitespace_in_names_is_normalised_to_single_spaces_before_rendering() -> None:
    request = signup("  Acme \u2028 Analytics\u00a0 Ltd  ")
    _, documents = rendered(derive_tenant_id("ws"), request)
    release = helm_release(documents)
    assert release["spec"]["values"]["tenantName"] == "Acme Analytics Ltd"
    assert release["metadata"]["annotations"][ANNOTATION] == "Acme Analytics Ltd"


@pytest.mark.parametrize(
    ("model", "extra"),
    [(DeploymentModel.REMOTE, {"aws_account_id": "222222222222", "region": "eu-west-1"})],
    ids=["remote"],
)
def test_a_tenant_is_not_rendered_without_images_or_an_exact_chart_version(
    model: DeploymentModel, extra: dict[str, Any]
) -> None:
    request = signup(tier=Tier.ADVANCED, deployment_model=model, **extra)
    assert request.model is model
    with pytest.raises(InvalidSignup, match=model.value):
        render_tenant(spec_of(derive_tenant_id(model.value), request, images=()), LAYOUT)
    with pytest.raises(InvalidSignup, match="chart version"):
        tenant_files(spec_of(derive_tenant_id(model.value), request, chart_version=None), LAYOUT)


# ------------------------------------------------------------------ the GitOps repository's seed


def seeded_objects() -> dict[str, list[dict[str, Any]]]:
    """The objects of each YAML file the local stack seeds (the README files only keep directories)."""
    return {
        path: [doc for doc in yaml.safe_load_all(text) if doc is not None]
        for path, text in seed_files().items()
        if path.endswith(".yaml")
    }


def seeded(kind: str) -> list[dict[str, Any]]:
    return [doc for docs in seeded_objects().values() for doc in docs if doc["kind"] == kind]


def released(spec: TenantSpec) -> TenantSpec:
    """The spec as the pipeline renders it: with the release's images and its exact chart version."""
    image = ImageRef(
        name="api", repository="123456789012.dkr.ecr.eu-west-1.amazonaws.com/api", digest="sha256:" + "0" * 64
    )
    return spec.model_copy(update={"chart_version": "1.0.0", "images": (image,)})


def test_the_seed_is_what_the_bootstrap_command_writes() -> None:
    options = BootstrapOptions(
        cluster="production", chart_registry=LOCAL_CHART_REGISTRY, receiver_url=LOCAL_RECEIVER_URL
    )
    assert seed_files() == bootstrap_files(options)


@pytest.mark.parametrize("path", sorted(seeded_objects()))
def test_seed_files_are_valid_kubernetes_objects(path: str) -> None:
    documents = seeded_objects()[path]
    assert documents
    for document in documents:
        validate_object(document)


def test_nothing_seeded_reconciles_the_remote_records() -> None:
    reconciled = [posixpath.normpath(doc["spec"]["path"]) for doc in seeded("Kustomization")]
    assert reconciled and all(path not in (".", "remote") and not path.startswith("remote/") for path in reconciled)
    assert "remote/README.md" in seed_files()


# ------------------------------------------------------------------ the validator itself is strict


def valid_release() -> dict[str, Any]:
    return helm_release(render_tenant(spec_of(derive_tenant_id("strict"), signup(tier=Tier.PREMIUM)), LAYOUT))


def test_the_reference_release_is_valid() -> None:
    assert validation_errors(valid_release()) == []


def broken(mutate: Any) -> dict[str, Any]:
    release = copy.deepcopy(valid_release())
    mutate(release)
    return release


BROKEN_RELEASES = {
    "unknown sourceRef kind": lambda r: r["spec"]["chart"]["spec"]["sourceRef"].update(kind="Nope"),
    "misspelled spec field": lambda r: r["spec"].update(intervall=r["spec"].pop("interval")),
    "misspelled optional field": lambda r: r["spec"].update(timout="5m"),
    "misspelled nested field": lambda r: r["spec"]["install"]["remediation"].update(retires=3),
    "misspelled top-level field": lambda r: r.update(specs={}),
    "bad interval": lambda r: r["spec"].update(interval="5 minutes"),
    "wrong type": lambda r: r["spec"]["install"]["remediation"].update(retries="three"),
    "missing chart name": lambda r: r["spec"]["chart"]["spec"].pop("chart"),
    "release name too long for Helm": lambda r: r["spec"].update(releaseName="r" * 54),
    "wrong apiVersion": lambda r: r.update(apiVersion="helm.toolkit.fluxcd.io/v2beta9"),
    "unknown kind": lambda r: r.update(kind="HelmReleases"),
    "uppercase name": lambda r: r["metadata"].update(name="Tenant-A"),
    "namespace not a label": lambda r: r["metadata"].update(namespace="pool.tenants"),
    "label value with spaces": lambda r: r["metadata"]["labels"].update(tier="very premium"),
    "label key not qualified": lambda r: r["metadata"]["labels"].update({"bad key": "x"}),
    "non-string annotation": lambda r: r["metadata"]["annotations"].update({"a.example/n": 1}),
    "misspelled metadata field": lambda r: r["metadata"].update(lables={}),
}


@pytest.mark.parametrize("mutation", list(BROKEN_RELEASES))
def test_a_broken_release_fails_validation(mutation: str) -> None:
    release = broken(BROKEN_RELEASES[mutation])
    assert validation_errors(release), f"{mutation} was accepted"
    with pytest.raises(ManifestInvalid):
        assert_valid(release)


@pytest.mark.parametrize(
    ("mutation", "field"), [("misspelled optional field", "timout"), ("misspelled nested field", "retires")]
)
def test_strictness_is_what_catches_a_misspelled_field(mutation: str, field: str) -> None:
    release = broken(BROKEN_RELEASES[mutation])
    errors = validation_errors(release)
    assert any(field in e for e in errors), errors
    # The CRD alone accepts it (the API server would silently prune the field): the helper adds that check.
    _, version = crd_for(release["apiVersion"], release["kind"])
    assert Draft7Validator(version["schema"]["openAPIV3Schema"]).is_valid(release)


def test_free_form_helm_values_stay_free_form() -> None:
    release = broken(lambda r: r["spec"]["values"].update(anything={"goes": ["here", 1, True]}))
    assert validation_errors(release) == []


BROKEN_NAMESPACES = {
    "uppercase": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Tenant-A"}},
    "dots": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}},
    "too long": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n" * 64}},
    "no name": {"apiVersion": "v1", "kind": "Namespace", "metadata": {}},
    "no metadata": {"apiVersion": "v1", "kind": "Namespace"},
    "namespaced": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "namespace": "b"}},
    "unknown field": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}, "sepc": {}},
    "unknown core kind": {"apiVersion": "v1", "kind": "Namespaces", "metadata": {"name": "a"}},
}


@pytest.mark.parametrize("case", list(BROKEN_NAMESPACES))
def test_a_broken_namespace_fails_validation(case: str) -> None:
    assert validation_errors(BROKEN_NAMESPACES[case]), f"{case} was accepted"


def test_a_minimal_namespace_is_valid() -> None:
    assert validation_errors({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t-acme-0123456789"}}) == []
