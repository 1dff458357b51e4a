"""The local stack's short-lived Go tools (helm, kubectl) run with Go's collector off under a memory ceiling,
unless the user's environment says otherwise; a tool's own variables (helm's homes) always win."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from onboarding_local import kube
from onboarding_local.charts import GO_TOOL_DEFAULTS, tool_env


def test_the_defaults_are_under_the_environment_and_the_tools_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert tool_env()["GOGC"] == "off" and tool_env()["GOMEMLIMIT"] == GO_TOOL_DEFAULTS["GOMEMLIMIT"]

    monkeypatch.setenv("GOGC", "50")  # the user's choice wins over the default
    monkeypatch.setenv("PATH_CHECK", "kept")
    env = tool_env(HELM_CACHE_HOME="/x")
    assert env["GOGC"] == "50" and env["PATH_CHECK"] == "kept" and env["HELM_CACHE_HOME"] == "/x"


def test_the_flux_emulators_tools_get_that_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    fake = tmp_path / "helm"
    fake.write_text('#!/bin/sh\necho "$GOGC $GOMEMLIMIT $HELM_CACHE_HOME"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(kube, "helm_binary", lambda: str(fake))

    out = kube.Tools(tmp_path, "127.0.0.1:1").run("helm", "version").split()

    assert out == ["off", GO_TOOL_DEFAULTS["GOMEMLIMIT"], str(tmp_path / "helm" / "cache")]
