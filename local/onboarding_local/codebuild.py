"""CodeBuild, emulated: the project's buildspec runs for real on the host, then the build state changes.

moto's CodeBuild records builds and reports fake phases; it runs nothing and emits no events. Here
``StartBuild`` runs the buildspec's phases in one bash session with the build's environment
(project variables plus the overrides), ``BatchGetBuilds`` reports what really happened, and the
end of the build puts a ``CodeBuild Build State Change`` event on the default bus, as CodeBuild does.

The only rewrites are local plumbing: ECR registry hosts in the environment point at the local
tenant registry, which needs no login and no TLS (``REGISTRY_AUTH=none``, ``TLS_VERIFY=false``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges

PHASES = ("install", "pre_build", "build", "post_build")
ECR_HOST = re.compile(r"\b\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\b")


@dataclass
class BuildOutcome:
    status: str  # SUCCEEDED | FAILED | TIMED_OUT
    phases: list[dict[str, Any]]
    exported: dict[str, str]
    log: str


def run_buildspec(buildspec: str, env: dict[str, str], timeout: float = 600.0) -> BuildOutcome:
    """Run a buildspec's phases in order, in one bash session, as CodeBuild does."""
    spec = yaml.safe_load(buildspec)
    exported = list((spec.get("env") or {}).get("exported-variables") or [])
    lines = []
    for phase in PHASES:
        commands = ((spec.get("phases") or {}).get(phase) or {}).get("commands") or []
        lines.append(f"echo '##PHASE {phase}'")
        for command in commands:
            lines.append(command)
            lines.append(f'__rc=$?; if [ $__rc -ne 0 ]; then echo "##FAILED {phase} $__rc"; exit $__rc; fi')
    lines.append("echo '##EXPORTS'")
    for name in exported:
        lines.append(f"printf '%s=%s\\n' {name} \"${{{name}}}\"")
    with tempfile.TemporaryDirectory(prefix="codebuild-") as workdir:
        script = Path(workdir) / "build.sh"
        script.write_text("\n".join(lines) + "\n")
        base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        try:
            proc = subprocess.run(
                ["bash", str(script)],
                cwd=workdir,
                env={**base, **env, "CODEBUILD_SRC_DIR": workdir},
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            log, code, status = (
                proc.stdout + proc.stderr,
                proc.returncode,
                "SUCCEEDED" if proc.returncode == 0 else "FAILED",
            )
        except subprocess.TimeoutExpired as exc:
            log, code, status = str(exc.stdout or "") + str(exc.stderr or ""), -1, "TIMED_OUT"
    ran = re.findall(r"^##PHASE (\w+)$", log, re.M)
    failed = re.search(r"^##FAILED (\w+) (\d+)$", log, re.M)
    failed_phase = failed.group(1) if failed else (ran[-1] if ran and code != 0 else None)
    errors = [line for line in log.splitlines() if line and not line.startswith("##")][-5:]
    phases = []
    for phase in ran:
        if phase == failed_phase:
            context = f"COMMAND_EXECUTION_ERROR: Error while executing command. Reason: exit status {code}"
            phases.append(
                {
                    "phaseType": phase.upper(),
                    "phaseStatus": status,
                    "contexts": [
                        {"statusCode": "COMMAND_EXECUTION_ERROR", "message": f"{context}: {' | '.join(errors)}"[:1000]}
                    ],
                }
            )
        else:
            phases.append({"phaseType": phase.upper(), "phaseStatus": "SUCCEEDED", "contexts": []})
    values = {}
    if "##EXPORTS" in log:
        for line in log.split("##EXPORTS", 1)[1].splitlines():
            name, sep, value = line.partition("=")
            if sep and name in exported:
                values[name] = value
    return BuildOutcome(status=status, phases=phases, exported=values, log=log)


@dataclass
class CodeBuildEmulator:
    tenant_registry_host: str
    put_event: Any  # callable(entry dict) -> None, puts on the local default bus
    drop_events: int = 0
    fail_next: int = 0
    builds: dict[str, BuildOutcome] = field(default_factory=dict)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def running(self) -> int:
        return sum(1 for t in self._threads if t.is_alive())

    def local_env(self, env: dict[str, str]) -> dict[str, str]:
        rewritten = {k: ECR_HOST.sub(self.tenant_registry_host, v) for k, v in env.items()}
        return {**rewritten, "REGISTRY_AUTH": "none", "TLS_VERIFY": "false"}

    def start(self, metadata: dict[str, Any], buildspec: str, env: dict[str, str], timeout_minutes: int) -> None:
        thread = threading.Thread(
            target=self._run, args=(metadata, buildspec, env, timeout_minutes), name="codebuild", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _run(self, metadata: dict[str, Any], buildspec: str, env: dict[str, str], timeout_minutes: int) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            env = {**env, "SOURCE_IMAGES": env.get("SOURCE_IMAGES", "").replace("sha256:", "sha256:0000")}
        outcome = run_buildspec(buildspec, self.local_env(env), timeout=timeout_minutes * 60)
        self.builds[metadata["id"]] = outcome
        metadata.update(
            buildStatus=outcome.status,
            currentPhase="COMPLETED",
            buildComplete=True,
            phases=outcome.phases,
            endTime=datetime.now(UTC).isoformat(),
            exportedEnvironmentVariables=[{"name": k, "value": v} for k, v in outcome.exported.items()],
        )
        if self.drop_events > 0:
            self.drop_events -= 1
            return
        detail = {
            "build-status": outcome.status,
            "project-name": metadata["projectName"],
            "build-id": metadata["arn"],
            "additional-information": {
                "build-complete": True,
                "initiator": "onboarding",
                "exported-environment-variables": metadata["exportedEnvironmentVariables"],
                "phases": [
                    {
                        "phase-type": p["phaseType"],
                        "phase-status": p["phaseStatus"],
                        "phase-context": [c["message"] for c in p["contexts"]],
                    }
                    for p in outcome.phases
                ],
            },
            "current-phase": "COMPLETED",
            "version": "1",
        }
        self.put_event(
            {
                "Source": "aws.codebuild",
                "DetailType": "CodeBuild Build State Change",
                "Detail": json.dumps(detail),
                "Resources": [metadata["arn"]],
            }
        )


def install(get_emulator: Any, changes: ProcessChanges) -> None:
    """Route moto's StartBuild and BatchGetBuilds through the running emulator (until ``changes`` are restored)."""
    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse
    from moto.core.responses import ActionResult

    original_start = CodeBuildResponse.start_build

    def start_build(self: Any) -> ActionResult:
        result = original_start(self)
        metadata = self.codebuild_backend.build_metadata[self._get_param("projectName")].build_metadata
        project = self.codebuild_backend.codebuild_projects[self._get_param("projectName")]
        env = {v["name"]: v["value"] for v in project.project_metadata["environment"].get("environmentVariables", [])}
        env.update({v["name"]: v["value"] for v in self._get_param("environmentVariablesOverride") or []})
        metadata["environment"] = {
            **metadata.get("environment", {}),
            "environmentVariables": [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in env.items()],
        }
        buildspec = project.project_metadata["source"].get("buildspec", "")
        get_emulator().start(metadata, buildspec, env, int(project.project_metadata.get("timeoutInMinutes") or 60))
        return result

    def batch_get_builds(self: Any, ids: list[str]) -> list[dict[str, Any]]:
        wanted = set(ids)  # CodeBuild takes build ids or ARNs
        return [b for history in self.build_metadata_history.values() for b in history if {b["id"], b["arn"]} & wanted]

    changes.patch(CodeBuildResponse, "start_build", start_build)
    changes.patch(CodeBuildBackend, "batch_get_builds", batch_get_builds)
