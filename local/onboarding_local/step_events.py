"""Capture ``events/steps/``: each function's input, as the local stack's real runs give it, one JSON file per
function (named after its folder in functions/), for ``sam local invoke FUNCTION -e events/steps/<folder>.json``;
and write ``env.json``, the ``--env-vars`` example (see ``env_example``).

    .venv/bin/python -m onboarding_local.step_events [--out events/steps] [--workdir .local-stack/step-events]
    .venv/bin/python -m onboarding_local.step_events --env-only     # env.json alone, after a template change

It runs, on a fresh local stack, a scenario that reaches every function: onboardings of every deployment model
(remote through its CodeBuild copy), one that fails and is compensated, a suspend, a rejected resume, an
operation whose completion fails and is reverted, a release that waits for an approval (the remote tenant's
images copied first), one whose canary fails and is rolled back and halted, one whose planning fails, the
offboardings of the hybrid and the remote tenant, and an onboarding requested by SBT's control plane.
Each file holds the first input the function answered without an error (else its first input): what a Step
Functions state passes it, the EventBridge envelope a rule delivers, or the function URL event Flux's
notification posts. tests/unit/test_step_events.py parses every file with its handler's input model, and fails
for a function that has none, so the files follow the handlers and the ASL.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from onboarding.identity import derive_tenant_id
from onboarding_local.provision import RELEASE_VERSION, REPO_ROOT

REMOTE_ACCOUNT, CHARTS = "222222222222", ("1.1.0", "1.2.0", "1.3.0")  # one chart version per release


def envelope(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"source": source, "detail-type": detail_type, "detail": detail}


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((REPO_ROOT / "events" / name).read_text(encoding="utf-8"))
    return event


def operation(detail_type: str, tenant_id: str, operation_id: str, **extra: Any) -> dict[str, Any]:
    return envelope("saas.signup", detail_type, {"tenantId": tenant_id, "operationId": operation_id, **extra})


def release(release_id: str, version: str, **extra: Any) -> dict[str, Any]:
    return envelope("saas.release", "Fleet Release Requested", {"releaseId": release_id, "chartVersion": version,
                                                                **extra})  # fmt: skip


def until(stack: Any, detail_type: str, timeout: float = 60) -> None:
    """Wait for a status event while an execution keeps waiting (an approval): wait_idle would not return."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["detail-type"] == detail_type for e in stack.status_events()):
            return
        time.sleep(0.2)
    raise TimeoutError(f"no {detail_type} within {timeout:.0f} s")


def scenario(stack: Any, charts: Path) -> None:
    """Everything that reaches every function once at least."""
    from onboarding_local.charts import publish_charts

    def settle(*events: dict[str, Any]) -> None:
        stack.put_events(list(events))
        stack.wait_idle(300)

    pooled, siloed = sample("signup-pooled.json"), sample("signup-siloed.json")
    remote, hybrid = sample("signup-remote.json"), sample("signup-hybrid.json")
    ids = {name: derive_tenant_id(e["detail"]["signupId"]) for name, e in
           (("pooled", pooled), ("siloed", siloed), ("remote", remote), ("hybrid", hybrid))}  # fmt: skip
    stack.bootstrap_tenant_account(REMOTE_ACCOUNT, ids["remote"])
    settle(pooled, siloed, remote, hybrid)
    stack.git.stop()  # CommitGitOps fails: Compensate, RecordFailure
    settle(envelope("saas.signup", "Tenant Signup Requested", {**pooled["detail"], "signupId": "steps-failing",
                                                                "tenantName": "Steps Failing"}))  # fmt: skip
    stack.git.start()
    settle(
        operation("Tenant Suspend Requested", ids["pooled"], "steps-suspend"),
        operation("Tenant Resume Requested", ids["siloed"], "steps-resume-rejected"),  # not suspended: rejected
    )
    stack.inject_fault("dynamodb", "UpdateItem", "ValidationException", times=1, after=1)  # completion fails
    settle(operation("Tenant Suspend Requested", ids["siloed"], "steps-suspend-reverted"))
    for version in CHARTS:
        publish_charts(charts / version, stack.release_registry.host, stack.workdir)
    registry = stack.release_registry  # a release that ships an image: the remote tenant's copy is built first
    api = {"name": "api", "sourceRepository": f"{registry.host}/saas/api",
           "digest": registry.manifest_digest("saas/api", RELEASE_VERSION)}  # fmt: skip
    settle(release("steps-images", CHARTS[0], images=[api]))
    stack.put_events([release("steps-approval", CHARTS[1], waves=[{"name": "gate", "approval": True}])])
    until(stack, "Fleet Release Awaiting Approval")
    settle(envelope("saas.release", "Fleet Release Approved", {"releaseId": "steps-approval", "wave": "gate"}))
    stack.flux.fail_next(ids["siloed"], "UpgradeFailed", "injected by step_events")  # rolled back, halted
    settle(release("steps-canary-fails", CHARTS[2]))
    stack.inject_fault("dynamodb", "Query", "ValidationException", times=1)  # PlanRelease fails: FailRelease
    settle(release("steps-plan-fails", CHARTS[2]))
    settle(
        operation("Tenant Offboarding Requested", ids["hybrid"], "steps-offboard-hybrid"),
        operation("Tenant Offboarding Requested", ids["remote"], "steps-offboard-remote"),
    )
    sbt = REPO_ROOT / "events" / "sbt" / "onboarding-request.json"
    if sbt.exists():  # SBT's control plane asks for an onboarding: SbtIntake, then SbtAnswer on its outcome
        settle(sample("sbt/onboarding-request.json"))


def release_charts(root: Path) -> Path:
    """charts/tenant copied at each of CHARTS under ``root``, for the releases of the scenario."""
    import yaml

    for v in CHARTS:
        target = root / v / "tenant"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(REPO_ROOT / "charts" / "tenant", target)
        meta = yaml.safe_load((target / "Chart.yaml").read_text(encoding="utf-8"))
        (target / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": v}), encoding="utf-8")
    return root


def template() -> Any:
    from onboarding_local.template import Template

    return Template(REPO_ROOT / "template.yaml", parameters={"GitOpsRepoUrl": "git://127.0.0.1/gitops.git"})


def function_folders() -> dict[str, str]:
    """template.yaml's function logical ids -> their folder under functions/."""
    return {
        logical: Path(str(resource["Properties"]["CodeUri"])).name
        for logical, resource in template().of_type("AWS::Serverless::Function").items()
    }


def env_example() -> dict[str, dict[str, str]]:
    """``sam local invoke --env-vars`` for every function: each variable its template Environment declares (with
    Globals'), valued as template.yaml resolves with its defaults (a resource's logical id for its name, account
    123456789012). Replace the names with your stack's (``aws cloudformation describe-stack-resources``)."""
    t = template()
    return {logical: t.function_environment(logical) for logical in t.of_type("AWS::Serverless::Function")}


def capture(workdir: Path, run: Callable[[Any, Path], None] = scenario) -> dict[str, Any]:
    """Run ``run(stack, charts)`` on a fresh stack (``charts``: the release charts, one folder per version);
    each function's first input, by its folder."""
    from onboarding_local.stack import LocalStack

    shutil.rmtree(workdir, ignore_errors=True)
    charts = release_charts(workdir.parent / f"{workdir.name}-charts")
    captured: dict[str, Any] = {}
    with LocalStack(workdir, parameters={"ReleasePollSeconds": "1"}) as stack:
        run(stack, charts)
        folders = function_folders()
        for invocation in sorted(stack.runtime.invocations, key=lambda i: i.error_type is not None):
            captured.setdefault(folders[invocation.function], invocation.payload)
    return captured


def as_on_lambda(text: str) -> str:
    """This checkout's and this Python's paths (in an error's stack trace) as Lambda's: /var/task, /var/lang."""
    return text.replace(str(REPO_ROOT), "/var/task").replace(sys.base_prefix, "/var/lang")


def write(captured: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for folder, payload in sorted(captured.items()):
        path = out / f"{folder}.json"
        text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        path.write_text(as_on_lambda(text), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onboarding_local.step_events", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "events" / "steps")
    parser.add_argument("--workdir", type=Path, default=Path(".local-stack") / "step-events")
    parser.add_argument("--env-only", action="store_true", help="write env.json alone (no local run)")
    args = parser.parse_args(argv)
    env = REPO_ROOT / "env.json"
    env.write_text(json.dumps(env_example(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {env}")
    if args.env_only:
        return 0
    captured = capture(args.workdir)
    missing = sorted(set(function_folders().values()) - set(captured))
    for path in write(captured, args.out):
        print(f"wrote {path}")
    if missing:
        print(f"no input captured for: {', '.join(missing)} (the scenario reaches none of them)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
