"""`onboarding-local run --gitops-from PATH`: the GitOps remote starts from PATH's branch main, its files and
history kept; the pipeline writes its tenants on top."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local.cli import main
from tests.conftest import signup_event
from tests.utils.paths import tenant_file

pytestmark = pytest.mark.pipeline


def git(repo: Path, *args: str) -> str:
    env = ["-c", "user.name=Platform team", "-c", "user.email=platform@example.com"]
    return subprocess.run(["git", *env, "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def source_repository(path: Path) -> Path:
    """A GitOps repository of its own: two commits on main, one of its files at a bootstrap path."""
    git(path.parent, "init", "-q", "-b", "main", str(path))
    (path / "apps").mkdir()
    (path / "apps" / "billing.yaml").write_text("kind: ConfigMap\n", encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "Platform: billing app")
    (path / "tenants").mkdir()
    (path / "tenants" / "README.md").write_text("Our own words about tenants/.\n", encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "Platform: tenants folder")
    return path


def test_run_gitops_from_keeps_the_repositorys_history_and_files_and_adds_the_tenant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a repository with history on main
    source = source_repository(tmp_path / "ours")
    signups = tmp_path / "signup.json"
    signups.write_text(json.dumps(signup_event("seeded-1", "Seeded One")), encoding="utf-8")

    # When the pipeline runs against a remote seeded from it
    code = main(["run", str(signups), "--workdir", str(tmp_path / "wd"), "--gitops-from", str(source), "--json"])

    # Then the tenant is onboarded, on top of the repository's own history and files
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    tenant_id = derive_tenant_id("seeded-1")
    assert [t["status"] for t in report["tenants"] if t["tenantId"] == tenant_id] == ["ACTIVE"]
    remote = Path(report["gitops"]["remote"])
    subjects = git(remote, "log", "--format=%s", "main").splitlines()
    assert subjects[-2:] == ["Platform: tenants folder", "Platform: billing app"]
    assert subjects[-3] == "Add the local stack's GitOps bootstrap files"
    assert git(source, "rev-parse", "main").strip() in git(remote, "rev-list", "main")  # the same commits
    files = git(remote, "ls-tree", "-r", "--name-only", "main").split()
    assert tenant_file(tenant_id) in files and "apps/billing.yaml" in files
    assert "clusters/production/tenants.yaml" in files  # a bootstrap file it lacked was added
    assert git(remote, "show", "main:tenants/README.md") == "Our own words about tenants/.\n"  # its own kept
    assert git(source, "log", "--format=%s", "main").splitlines() == subjects[-2:]  # the source is untouched


def test_gitops_from_a_directory_without_a_main_branch_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--workdir", str(tmp_path / "wd"), "--gitops-from", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "is not a git repository with a branch main" in capsys.readouterr().err
