"""The Flux emulator against a real git daemon, a real OCI registry, the real helm and kubectl, and a stub receiver
that records every request: what Flux would report for what the pipeline commits, signed as notification-controller
signs it. Signatures are checked here with ``hmac`` directly, independently of the code under test."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.contract.signup import SignupRequested
from onboarding.identity import derive_tenant_id
from onboarding.manifests import GitOpsLayout, tenant_files, tenant_path
from onboarding_local.charts import helm, publish_charts
from onboarding_local.flux import FluxEmulator
from onboarding_local.gitserver import GitServer
from onboarding_local.registry import Registry
from tests.utils.release import CHART_VERSION, spec_of

# its module fixture is built once: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("flux_emulator")

REPO = Path(__file__).resolve().parents[2]
MASTER = "k3yMasterToken0123456789abcdefghijklmnopqrstuvw"  # 48 characters, like the generated secret
POOLED, SILOED, REMOTE = derive_tenant_id("fx-pooled"), derive_tenant_id("fx-siloed"), derive_tenant_id("fx-remote")
LAYOUT = GitOpsLayout()


def tenant_file(tenant_id: str, model: str = "pooled", **update: Any) -> dict[str, str]:
    extra = {"awsAccountId": "222222222222", "region": "eu-west-1"} if model == "remote" else {}
    signup = SignupRequested.model_validate(
        {"signupId": tenant_id, "tenantName": f"Flux {model}", "adminEmail": "a@b.example", "tier": "premium",
         "deploymentModel": model, **extra}
    )  # fmt: skip
    files = tenant_files(spec_of(tenant_id, signup, **update), LAYOUT)
    return {path: text.decode("utf-8") for path, text in files.items()}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class StubReceiver:
    """Records every request and answers 202, as the receiver does."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                owner.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(202)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def about(self, name: str) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.event["involvedObject"]["name"] == name]


@dataclass
class Flux:
    git: GitServer
    receiver: StubReceiver
    emulator: FluxEmulator
    scratch: Path

    def push(self, files: Mapping[str, str | None], message: str = "change") -> str:
        """Commit ``files`` (None removes one) through the git daemon, as the pipeline's writers do."""
        work = self.scratch / f"work-{len(list(self.scratch.iterdir()))}"
        subprocess.run(["git", "clone", "-q", self.git.url, str(work)], check=True)
        for path, text in files.items():
            if text is None:
                (work / path).unlink()
            else:
                (work / path).parent.mkdir(parents=True, exist_ok=True)
                (work / path).write_text(text, encoding="utf-8")
        ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
        subprocess.run(["git", *ident, "-C", str(work), "commit", "-qm", message], check=True)
        subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "main"], check=True)
        self.emulator.wait_idle(60)
        assert not self.emulator.errors, self.emulator.errors
        return self.git.head()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    workdir = tmp_path_factory.mktemp("registry")
    started = Registry(workdir, "release").start()
    try:
        publish_charts(REPO / "charts", started.host, workdir)
        # the remote tenant's own copy of the chart, where the artifact build puts it: <tenantId>/charts/tenant
        package = workdir / "charts" / f"tenant-{CHART_VERSION}.tgz"
        helm(workdir, "push", str(package), f"oci://{started.host}/{REMOTE}/charts", "--plain-http")
        yield started
    finally:
        started.stop()


@pytest.fixture
def flux(tmp_path: Path, registry: Registry) -> Iterator[Flux]:
    git = GitServer(tmp_path).start()
    receiver = StubReceiver()
    emulator = FluxEmulator(git.repo, registry.host, receiver.url, MASTER, tmp_path / "flux").start()
    (tmp_path / "scratch").mkdir()
    try:
        emulator.wait_idle(60)
        yield Flux(git, receiver, emulator, tmp_path / "scratch")
    finally:
        emulator.stop()
        receiver.server.shutdown()
        git.stop()


def signed_by(token: str, received: Received) -> bool:
    expected = "sha256=" + hmac.new(token.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(received.headers["x-signature"], expected)


def test_an_install_then_a_values_change_then_nothing_then_removal(flux: Flux) -> None:
    head = flux.push(tenant_file(POOLED))
    (installed,) = flux.receiver.about(POOLED)
    assert installed["reason"] == "InstallSucceeded" and installed["severity"] == "info"
    assert installed["metadata"]["tenantId"] == POOLED and installed["metadata"]["revision"] == CHART_VERSION
    assert installed["metadata"]["cluster"] == "production"  # the Alert's eventMetadata
    assert installed["involvedObject"] | {"uid": "", "resourceVersion": ""} == {
        "kind": "HelmRelease", "namespace": "pool", "name": POOLED, "uid": "",
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "resourceVersion": "",
    }  # fmt: skip
    assert set(installed) == {
        "involvedObject", "severity", "timestamp", "message", "reason", "metadata", "reportingController",
        "reportingInstance",
    }  # fmt: skip
    assert installed["reportingController"] == "helm-controller"
    assert f"with chart tenant@{CHART_VERSION}" in installed["message"]
    applied = [r.event for r in flux.receiver.received if r.event["involvedObject"]["name"] == "tenants"]
    assert applied[-1]["reason"] == "ReconciliationSucceeded"
    assert applied[-1]["metadata"]["revision"] == f"main@sha1:{head}"
    assert f"HelmRelease/pool/{POOLED} created" in applied[-1]["message"]
    assert all(signed_by(MASTER, r) for r in flux.receiver.received)

    flux.push(tenant_file(POOLED, suspended=True))
    assert [e["reason"] for e in flux.receiver.about(POOLED)] == ["InstallSucceeded", "UpgradeSucceeded"]

    before = len(flux.receiver.received)
    flux.push({"tenants/notes.txt": "not a manifest\n"})
    assert len(flux.receiver.received) == before  # a no-op reconcile sends nothing, as Flux

    flux.push({tenant_path(POOLED, LAYOUT): None})
    uninstalled = flux.receiver.about(POOLED)[-1]
    assert uninstalled["reason"] == "UninstallSucceeded" and uninstalled["metadata"]["tenantId"] == POOLED
    assert flux.emulator.renders == 2 and flux.emulator.events_sent == len(flux.receiver.received)


def test_a_chart_version_not_published_is_artifact_failed_with_helms_message(flux: Flux) -> None:
    flux.push(tenant_file(POOLED, chart_version="9.9.9"))
    (failed,) = flux.receiver.about(POOLED)
    assert failed["reason"] == "ArtifactFailed" and failed["severity"] == "error"
    assert "9.9.9: not found" in failed["message"] and failed["metadata"]["revision"] == "9.9.9"


def test_an_invalid_value_is_install_failed_with_helms_message(flux: Flux) -> None:
    (path, text), = tenant_file(POOLED).items()  # fmt: skip
    (release,) = yaml.safe_load_all(text)
    release["spec"]["values"]["tier"] = "gold"
    flux.push({path: yaml.safe_dump(release)})
    (failed,) = flux.receiver.about(POOLED)
    assert failed["reason"] == "InstallFailed" and failed["severity"] == "error"
    assert "values don't meet the specifications of the schema" in failed["message"]
    assert "value must be one of 'basic', 'premium', 'advanced'" in failed["message"]

    release["spec"]["values"]["tier"] = "premium"  # fixed: installed; broken again: the upgrade fails
    flux.push({path: yaml.safe_dump(release)})
    release["spec"]["values"]["resources"]["replicas"] = -1
    flux.push({path: yaml.safe_dump(release)})
    assert [e["reason"] for e in flux.receiver.about(POOLED)] == ["InstallFailed", "InstallSucceeded", "UpgradeFailed"]


def test_a_siloed_tenant_is_reported_through_its_own_alert_which_outlives_its_file(flux: Flux) -> None:
    flux.push(tenant_file(SILOED, "siloed"))
    (installed,) = flux.receiver.about(SILOED)
    assert installed["reason"] == "InstallSucceeded" and installed["involvedObject"]["namespace"] == SILOED

    flux.push({tenant_path(SILOED, LAYOUT): None})
    # its Alert is prune: disabled, so kustomize-controller keeps it and the uninstall still reaches the receiver
    assert [e["reason"] for e in flux.receiver.about(SILOED)] == ["InstallSucceeded", "UninstallSucceeded"]
    changes = flux.receiver.about("tenants")[-1]["message"].splitlines()
    assert f"HelmRelease/{SILOED}/{SILOED} deleted" in changes
    assert not [line for line in changes if line.startswith("Alert/")]


def test_only_what_an_alert_selects_is_sent(flux: Flux) -> None:
    (path, text), = tenant_file(SILOED, "siloed").items()  # fmt: skip
    documents = list(yaml.safe_load_all(text))
    alert = next(d for d in documents if d["kind"] == "Alert")
    del alert["metadata"]["annotations"]  # an Alert pruned with the tenant's file
    flux.push({path: yaml.safe_dump_all(documents)})
    flux.push({path: None})
    assert [e["reason"] for e in flux.receiver.about(SILOED)] == ["InstallSucceeded"]  # the uninstall had no Alert
    assert flux.emulator.notifier.unrouted == [f"HelmRelease/{SILOED}/{SILOED} UninstallSucceeded"]
    assert f"HelmRelease/{SILOED}/{SILOED} deleted" in flux.receiver.about("tenants")[-1]["message"]


def test_a_remote_tenants_cluster_signs_with_its_own_token(flux: Flux) -> None:
    flux.push(tenant_file(REMOTE, "remote"))
    (request,) = [r for r in flux.receiver.received if r.event["involvedObject"]["name"] == REMOTE]
    assert request.event["reason"] == "InstallSucceeded" and request.event["metadata"]["tenantId"] == REMOTE
    derived = hmac.new(MASTER.encode(), f"flux-receiver/{REMOTE}".encode(), hashlib.sha256).hexdigest()
    assert signed_by(derived, request) and not signed_by(MASTER, request)


def test_a_remote_chart_not_copied_to_the_tenants_registry_is_artifact_failed(flux: Flux) -> None:
    other = derive_tenant_id("fx-remote-without-chart")
    flux.push(tenant_file(other, "remote"))
    (failed,) = flux.receiver.about(other)
    assert failed["reason"] == "ArtifactFailed" and f"{other}/charts/tenant" in failed["message"]


def test_a_file_kustomize_cannot_build_fails_the_kustomization_naming_the_tenant(flux: Flux) -> None:
    flux.push(tenant_file(POOLED))
    head = flux.push({tenant_path(POOLED, LAYOUT): "apiVersion: v1\nkind: [unclosed\n"})
    failed = flux.receiver.about("tenants")[-1]
    assert failed["reason"] == "ReconciliationFailed" and failed["severity"] == "error"
    assert failed["reportingController"] == "kustomize-controller"
    assert failed["metadata"]["revision"] == f"main@sha1:{head}"
    assert failed["message"].startswith("kustomize build failed: accumulating resources")  # kubectl's own error
    assert "MalformedYAMLError" in failed["message"] and f"HelmRelease/pool/{POOLED}" in failed["message"]
    assert [e["reason"] for e in flux.receiver.about(POOLED)] == ["InstallSucceeded"]  # nothing else applied


def test_fail_next_drop_next_and_pause(flux: Flux) -> None:
    flux.emulator.fail_next(POOLED, "InstallFailed", "quota exceeded")
    flux.push(tenant_file(POOLED))
    assert [(e["reason"], e["message"]) for e in flux.receiver.about(POOLED)] == [("InstallFailed", "quota exceeded")]

    flux.emulator.drop_next(POOLED)
    flux.push(tenant_file(POOLED, suspended=True))
    assert len(flux.receiver.about(POOLED)) == 1 and flux.emulator.notifier.dropped[0]["reason"] == "InstallSucceeded"

    flux.emulator.paused = True
    flux.push(tenant_file(POOLED))  # idle at once: a paused Flux reconciles nothing
    assert len(flux.receiver.about(POOLED)) == 1 and flux.emulator.processed != flux.git.head()
    flux.emulator.paused = False
    flux.emulator.wait_idle(60)
    assert flux.receiver.about(POOLED)[-1]["reason"] == "UpgradeSucceeded"

    flux.emulator.fail_next(POOLED, "HealthCheckFailed", "timeout waiting for: [HelmRelease status: 'InProgress']")
    flux.push(tenant_file(POOLED, suspended=True))
    failed = flux.receiver.about("tenants")[-1]
    assert failed["reason"] == "HealthCheckFailed" and f"HelmRelease/pool/{POOLED}" in failed["message"]
    assert flux.emulator.process_seconds["helm"] > 0 and flux.emulator.process_seconds["kubectl"] > 0
