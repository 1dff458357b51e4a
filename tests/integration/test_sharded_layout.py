"""The sharded tenants layout (``GitOpsLayout.tenant_shards``) on a real git daemon and the real kustomize:
a write in either layout moves the tenant's file out of the other (a repository migrates tenant by tenant),
compensation removes it from both, and Flux's generated kustomization (and the local emulator's) reconciles
a tenants/ directory holding both layouts alike. The sharded layout is the default: a deployment whose repository
is flat and that upgrades without setting ``GitOpsTenantShards`` keeps every tenant reconciling, and migrates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from onboarding.adapters.git import DulwichGitOpsRepository
from onboarding.adapters.gitbase import BaseCache
from onboarding.contract.common import Tier
from onboarding.contract.signup import SignupRequested
from onboarding.gitops import apply_files, desired_files
from onboarding.identity import derive_tenant_id
from onboarding.manifests import LABEL_PREFIX, GitOpsLayout, tenant_files, tenant_path, tenant_paths, tenant_shard
from onboarding.settings import GitOpsSettings
from onboarding_local.gitserver import GitServer
from onboarding_local.kube import generated_kustomization, kubectl_binary
from onboarding_local.template import Template
from tests.conftest import REPO
from tests.integration.test_bootstrap_kustomize import controller_kustomization
from tests.utils.release import spec_of

FLAT, SHARDED = GitOpsLayout(tenant_shards=False), GitOpsLayout()  # the default is the sharded layout


def spec(name: str):  # type: ignore[no-untyped-def]
    tenant_id = derive_tenant_id(name)
    signup = SignupRequested(signup_id=name, tenant_name=name, admin_email="ops@acme.example", tier=Tier.BASIC)
    return tenant_id, spec_of(tenant_id, signup)


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    git = GitServer(tmp_path).start()
    yield git
    git.stop()


def test_the_shard_is_a_stable_two_hex_digit_directory() -> None:
    assert tenant_shard("t-acme-0123456789") == tenant_shard("t-acme-0123456789")
    assert len({tenant_shard(f"t-{i}") for i in range(5000)}) == 256
    assert (
        tenant_path("t-acme-0123456789", SHARDED)
        == f"tenants/{tenant_shard('t-acme-0123456789')}/t-acme-0123456789.yaml"
    )
    assert tenant_path("t-acme-0123456789", FLAT) == "tenants/t-acme-0123456789.yaml"


def test_a_write_in_either_layout_moves_the_tenants_file_out_of_the_other(server: GitServer) -> None:
    tenant_id, tenant = spec("migrating")
    repo = DulwichGitOpsRepository(server.url, "main", cache=BaseCache())
    flat, sharded = tenant_path(tenant_id, FLAT), tenant_path(tenant_id, SHARDED)
    # Given a tenant written in the flat layout, and a neighbour that is not written again
    apply_files(repo, desired_files(tenant_id, tenant, FLAT), "Onboard (flat)")
    neighbour_id, neighbour = spec("neighbour")
    apply_files(repo, desired_files(neighbour_id, neighbour, FLAT), "Onboard the neighbour")
    assert server.read(flat) is not None and server.read(sharded) is None
    # When it is written again in the sharded layout (an update, or a fleet release)
    change = apply_files(repo, desired_files(tenant_id, tenant, SHARDED), "Update (sharded)")
    # Then its file moved in one commit, its content unchanged, and the neighbour stayed where it was
    assert change.changed and sorted(change.paths) == sorted([flat, sharded])
    assert server.read(flat) is None and server.read(sharded) == tenant_files(tenant, FLAT)[flat].decode()
    assert server.read(tenant_path(neighbour_id, FLAT)) is not None
    # A re-apply in the same layout changes nothing; the way back works the same
    assert not apply_files(repo, desired_files(tenant_id, tenant, SHARDED), "Again").changed
    apply_files(repo, desired_files(tenant_id, tenant, FLAT), "Back to flat")
    assert server.read(flat) is not None and server.read(sharded) is None
    # Offboarding (desired: absent) and compensation (every path the tenant may own) remove it from both
    apply_files(repo, desired_files(tenant_id, tenant, SHARDED), "Sharded again")
    apply_files(repo, dict.fromkeys(tenant_paths(tenant_id)), "Remove")
    assert not [p for p in server.files() if tenant_id in p]
    server.git("fsck", "--strict", "--no-dangling")


def test_flux_reconciles_a_tenants_directory_holding_both_layouts(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    ids = []
    for name, layout in (("flat-one", FLAT), ("sharded-one", SHARDED), ("sharded-two", SHARDED)):
        tenant_id, tenant = spec(name)
        ids.append(tenant_id)
        for path, content in tenant_files(tenant, layout).items():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_bytes(content)
    (tenants / "README.md").write_text("kept by the bootstrap\n")
    assert reconciled_tenants(tenants) == sorted(ids)


def reconciled_tenants(tenants: Path) -> list[str]:
    """The tenant ids of the HelmReleases the tenants Kustomization applies: ``kubectl kustomize`` of the directory
    with the kustomization kustomize-controller generates for it."""
    # The local Flux emulator's generator and the bootstrap test's agree (both: fluxcd/pkg's generator)
    generated = generated_kustomization(tenants)
    assert generated == controller_kustomization(tenants)
    (tenants / "kustomization.yaml").write_text(yaml.safe_dump(generated))
    built = subprocess.run([kubectl_binary(), "kustomize", str(tenants)], capture_output=True, text=True, check=True)
    releases = [d for d in yaml.safe_load_all(built.stdout) if d and d["kind"] == "HelmRelease"]
    return sorted(r["metadata"]["labels"][f"{LABEL_PREFIX}/tenant-id"] for r in releases)


def test_a_flat_repository_upgraded_without_the_parameter_keeps_every_tenant_and_migrates(
    server: GitServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a repository the pipeline wrote in the flat layout, before the sharded default
    before = [spec(f"before-{i}") for i in range(3)]
    repo = DulwichGitOpsRepository(server.url, "main", cache=BaseCache())
    for tenant_id, tenant in before:
        apply_files(repo, desired_files(tenant_id, tenant, FLAT), f"Onboard {tenant_id}")
    # and a deployment upgraded without setting GitOpsTenantShards: its functions' environment as the template sets it
    environment = Template(REPO / "template.yaml", parameters={"GitOpsRepoUrl": server.url})
    for key, value in environment.function_environment("CommitGitOpsFunction").items():
        monkeypatch.setenv(key, value)
    layout = GitOpsSettings().gitops_layout
    assert layout.tenant_shards
    # When a new tenant is onboarded, a flat tenant is updated (suspended) and another offboarded
    (kept, _), (moved, moved_spec), (gone, _) = before
    new, new_spec = spec("after")
    apply_files(repo, desired_files(new, new_spec, layout), f"Onboard {new}")
    apply_files(repo, desired_files(moved, moved_spec.model_copy(update={"suspended": True}), layout), "Suspend")
    apply_files(repo, desired_files(gone, None, layout), f"Offboard {gone}")
    # Then the new and the updated tenant are sharded, the untouched one is still flat, the offboarded one is gone
    tenant_files_on_branch = {tid: [p for p in server.files() if tid in p] for tid in (kept, moved, gone, new)}
    assert tenant_files_on_branch == {
        kept: [tenant_path(kept, FLAT)],
        moved: [tenant_path(moved, SHARDED)],
        gone: [],
        new: [tenant_path(new, SHARDED)],
    }
    # and the tenants Kustomization applies every live tenant exactly once, from either layout
    for path in server.files():
        if path.startswith("tenants/"):
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(server.read(path) or "")
    assert reconciled_tenants(tmp_path / "tenants") == sorted([kept, moved, new])


# The one-shot migration documented in docs/production-path.md §2, run as written (bash, git, sha1sum).
MIGRATION = """set -eu
for f in tenants/*.yaml; do
  id=$(basename "$f" .yaml)
  shard=tenants/$(printf %s "$id" | sha1sum | cut -c1-2)
  mkdir -p "$shard" && git mv "$f" "$shard/"
done
git -c user.name=Operator -c user.email=ops@example.com commit -qm "Shard tenants/ (GitOpsLayout.tenant_shards)"
git push -q origin HEAD:main
"""


def test_the_one_shot_migration_moves_every_flat_tenant_where_the_sharded_layout_reads_it(
    server: GitServer, tmp_path: Path
) -> None:
    tenants = [spec(f"flat-{i}") for i in range(6)]
    repo = DulwichGitOpsRepository(server.url, "main", cache=None)
    for tenant_id, tenant in tenants:
        apply_files(repo, desired_files(tenant_id, tenant, FLAT), f"Onboard {tenant_id}")
    before = {tid: server.read(tenant_path(tid, FLAT)) for tid, _ in tenants}
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", server.url, str(checkout)], check=True)
    subprocess.run(["bash", "-c", MIGRATION], cwd=checkout, check=True)
    # Every tenant's file is where the sharded layout puts it, unchanged; nothing else under tenants/ moved
    assert {tid: server.read(tenant_path(tid, SHARDED)) for tid, _ in tenants} == before
    assert not [p for p in server.files() if p.startswith("tenants/") and p.count("/") == 1 and p.endswith(".yaml")]
    assert "tenants/README.md" in server.files()
    # and a sharded write of the same desired state finds nothing to change
    sharded = DulwichGitOpsRepository(server.url, "main", cache=None)
    assert not [t for t, s in tenants if apply_files(sharded, desired_files(t, s, SHARDED), "Re-apply").changed]
