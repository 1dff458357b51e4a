"""Fleet release: a new chart version rolled out to N local tenants (default 1,000) in two waves.

The tenants are seeded as a running fleet: their records (ACTIVE, on the release's current chart) in the
TenantsTable and their files in ONE commit, which the Flux emulator adopts as already applied (it renders
nothing of the seed). Then ``Fleet Release Requested`` goes through the real release state machine: a canary
wave of one tenant, then everyone else. Every HelmRelease a wave changes is pulled and rendered by the real
helm and validated, as for any change; the report separates that emulator cost from the pipeline's.

Measured: the release's wall time (PutEvents until the stack is idle), its execution's duration, the git
pushes it made (commits on ``main``) against its waves, the tenants moved and any failure.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

NEW = "1.1.0"  # published from a copy of charts/tenant with its version raised


def _publish_new_chart(stack: Any, workdir: Path) -> None:
    from onboarding_local.charts import publish_charts
    from onboarding_local.provision import REPO_ROOT

    charts = workdir / "charts" / "tenant"
    shutil.copytree(REPO_ROOT / "charts" / "tenant", charts)
    meta = yaml.safe_load((charts / "Chart.yaml").read_text(encoding="utf-8"))
    (charts / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": NEW}), encoding="utf-8")
    publish_charts(charts.parent, stack.release_registry.host, stack.workdir)


def seed_fleet(stack: Any, count: int) -> list[str]:
    """``count`` ACTIVE tenants (basic and premium, pooled and siloed), as the pipeline leaves them, in one commit."""
    from datetime import UTC, datetime

    from onboarding.adapters.dynamodb.codec import to_item
    from onboarding.adapters.ssm import read_release
    from onboarding.contract.signup import SignupRequested
    from onboarding.gitops import apply_files, wave_files
    from onboarding.identity import derive_tenant_id
    from onboarding.records import TenantRecord, TenantStatus
    from onboarding.settings import GitOpsSettings

    release = read_release(stack.template.params["ReleaseParameterName"], stack.client("ssm"))
    at = datetime.now(UTC)
    ddb = stack.client("dynamodb")
    records = []
    for i in range(count):
        signup = SignupRequested.model_validate(
            {"signupId": f"fleet-{i:05d}", "tenantName": f"Fleet Tenant {i:05d}", "adminEmail": "ops@example.com",
             "tier": "premium" if i % 4 == 0 else "basic", "deploymentModel": "siloed" if i % 4 == 0 else "pooled"}
        )  # fmt: skip
        tenant_id = derive_tenant_id(signup.signup_id)
        record = TenantRecord.of_signup(
            tenant_id, signup, status=TenantStatus.ACTIVE, execution=tenant_id, attempt=1, at=at, history=[]
        ).model_copy(
            update={"git_commit": "seed", "chart_version": release.chart_version,
                    "release_version": release.version, "images": release.provider_images()}
        )  # fmt: skip
        ddb.put_item(TableName="TenantsTable", Item=to_item(record.item()))
        records.append(record)
    settings = GitOpsSettings()
    repo = _repository(settings)
    versions = {r.tenant_id: release.chart_version for r in records}
    apply_files(repo, wave_files(records, versions, settings.gitops_layout), f"Seed {count} tenants (benchmark)")
    stack.flux.adopt()
    return [r.tenant_id for r in records]


def _repository(settings: Any) -> Any:
    from onboarding.runtime import gitops_repository

    return gitops_repository(settings)


def measure_release(stack: Any, tenants: int, timeout: float) -> dict[str, Any]:
    from onboarding_local.stack import describe_execution

    with tempfile.TemporaryDirectory(prefix="release-charts-") as tmp:
        _publish_new_chart(stack, Path(tmp))
    seeded_at = time.perf_counter()
    ids = seed_fleet(stack, tenants)
    seed_s = time.perf_counter() - seeded_at
    commits_before = len(stack.git.log())
    renders_before, helm_before = stack.flux.renders, dict(stack.flux.process_seconds)
    request = {"releaseId": f"bench-{tenants}", "chartVersion": NEW,
               "waves": [{"name": "canary", "tenantIds": [ids[0]]}, {"name": "everyone"}]}  # fmt: skip
    started = time.perf_counter()
    stack.put_events([{"source": "saas.release", "detail-type": "Fleet Release Requested", "detail": request}])
    stack.wait_idle(timeout=timeout)
    wall_s = time.perf_counter() - started
    log = stack.git.log()[: len(stack.git.log()) - commits_before]
    events = {e["detail-type"]: e["detail"] for e in stack.status_events()}
    sfn = stack.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=stack.template.ref("ReleaseStateMachine"))["executions"]
    described = describe_execution(sfn, executions[0]["executionArn"]) if executions else {}
    helm_s = {k: round(v - helm_before.get(k, 0.0), 2) for k, v in stack.flux.process_seconds.items()}
    completed = events.get("Fleet Release Completed") or {}
    by_state: dict[str, list[float]] = {}
    for state in described.get("states") or []:  # the pipeline's own time, state by state (every visit)
        by_state.setdefault(str(state["name"]), []).append(float(state.get("durationMs") or 0))
    state_ms = {name: {"visits": len(ms), "totalMs": round(sum(ms), 1), "maxMs": round(max(ms), 1)}
                for name, ms in by_state.items() if not name.startswith(("Wait", "Bake"))}  # fmt: skip
    waves = [e for e in stack.status_events() if e["detail-type"] == "Fleet Release Wave Completed"]
    return {
        "tenants": tenants,
        "seedSeconds": round(seed_s, 2),
        "wallSeconds": round(wall_s, 2),
        "executionStatus": executions[0]["status"] if executions else None,
        "executionMs": described.get("durationMs"),
        "waves": [
            {"wave": w["detail"]["wave"], "succeeded": w["detail"]["succeeded"], "failed": w["detail"]["failed"]}
            for w in waves
        ],
        "released": completed.get("tenants"),
        "pushes": len(log),
        "pushesPerWave": round(len(log) / max(1, len(waves)), 2),
        "commits": log,
        "stateMs": state_ms,
        "fluxRenders": stack.flux.renders - renders_before,
        "fluxProcessSeconds": helm_s,
        "halted": events.get("Fleet Release Halted"),
    }


def release_problems(report: dict[str, Any]) -> list[str]:
    found = []
    if release := report.get("release"):
        if release["released"] != release["tenants"]:
            found.append(f"release: {release['released']} of {release['tenants']} tenants released")
        if release["pushes"] > len(release["waves"]):
            found.append(f"release: {release['pushes']} pushes for {len(release['waves'])} waves")
    return found


def render_release(report: dict[str, Any]) -> str:
    release = report.get("release")
    if not release:
        return ""
    helm = ", ".join(f"{k} {v} s" for k, v in sorted(release["fluxProcessSeconds"].items()))
    return (
        f"\nFleet release to {release['tenants']} tenants: {release['wallSeconds']} s wall "
        f"(execution {release['executionMs']} ms, {release['executionStatus']}), "
        f"{release['pushes']} pushes for {len(release['waves'])} waves, {release['released']} released; "
        f"Flux emulator: {release['fluxRenders']} renders ({helm}); seeding {release['seedSeconds']} s\n"
    )
