"""The local stack runs helm (short-lived, rendering small charts) with Go's collector off under a memory ceiling,
unless the user's environment says otherwise; helm's own homes always win. kubectl keeps the environment as it is:
a large kustomize build gains nothing from it and would grow to the ceiling."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from onboarding_local import kube
from onboarding_local.charts import HELM_GO_DEFAULTS, helm_env


@pytest.fixture(autouse=True)
def no_go_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment without the variables in question; it sets what it needs."""
    for name in ("GOGC", "GOMEMLIMIT", "HELM_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def echo_env(tmp_path: Path) -> Path:
    """A stand-in binary that prints the variables in question, to see what a tool is started with."""
    fake = tmp_path / "tool"
    printed = " ".join(f"${{{name}:-unset}}" for name in ("GOGC", "GOMEMLIMIT", "HELM_CACHE_HOME", "MARKER"))
    fake.write_text(f'#!/bin/sh\necho "{printed}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return fake


def test_the_defaults_are_under_the_environment_and_helms_homes(monkeypatch: pytest.MonkeyPatch) -> None:
    env = helm_env(Path("/h"))
    assert env["GOGC"] == "off" and env["GOMEMLIMIT"] == HELM_GO_DEFAULTS["GOMEMLIMIT"]

    monkeypatch.setenv("GOGC", "50")  # the user's choice wins over the default
    monkeypatch.setenv("HELM_CACHE_HOME", "/elsewhere")  # but not over the stack's own helm homes
    env = helm_env(Path("/h"))
    assert env["GOGC"] == "50" and "GOMEMLIMIT" not in env and env["HELM_CACHE_HOME"] == "/h/cache"


def test_a_memory_limit_of_the_users_own_keeps_the_collector_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMEMLIMIT", "8GiB")
    env = helm_env(Path("/h"))
    assert env["GOMEMLIMIT"] == "8GiB" and "GOGC" not in env  # not the collector off up to 8 GiB


def test_the_flux_emulators_helm_gets_the_defaults_and_kubectl_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_env: Path
) -> None:
    monkeypatch.setenv("MARKER", "kept")  # the rest of the environment reaches both
    monkeypatch.setattr(kube, "helm_binary", lambda: str(echo_env))
    monkeypatch.setattr(kube, "kubectl_binary", lambda: str(echo_env))
    tools = kube.Tools(tmp_path, "127.0.0.1:1")

    assert tools.run("helm", "version").split() == ["off", "512MiB", str(tmp_path / "helm" / "cache"), "kept"]
    assert tools.run("kubectl", "version").split() == ["unset", "unset", "unset", "kept"]
