"""``onboarding-local``: run the real pipeline on the embedded local stack (no AWS account, no Docker)."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from onboarding_local.stack import REPO_ROOT, LocalStack

DEMO_FILES = [
    "signup-pooled.json",
    "signup-siloed.json",
    "signup-pooled.json",  # the same signup again: a duplicate delivery changes nothing
    "signup-invalid.json",
    "signup-remote.json",
]


def load_events(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"onboarding-local: cannot read {path}: {exc}") from exc
    events = data if isinstance(data, list) else [data]
    for i, event in enumerate(events):
        if not isinstance(event, dict) or not {"source", "detail-type", "detail"} <= event.keys():
            raise SystemExit(
                f"onboarding-local: {path} event {i}: expected an EventBridge envelope with "
                "'source', 'detail-type' and 'detail' (see events/)"
            )
    return events


def run(files: list[Path], workdir: Path, timeout: float) -> dict[str, Any]:
    """Put each file's events on the bus at once; the next file starts when everything settled."""
    batches = [load_events(f) for f in files]
    if workdir.exists():
        shutil.rmtree(workdir / "git", ignore_errors=True)
        (workdir / "lambda.log").unlink(missing_ok=True)
    with LocalStack(workdir) as stack:
        for batch in batches:
            stack.put_events(batch)
            stack.wait_idle(timeout)
        return {
            "executions": [
                {k: e[k] for k in ("name", "status", "error", "cause", "durationMs", "states")}
                for e in stack.executions()
            ],
            "tenants": stack.tenants(),
            "events": stack.status_events(),
            "gitops": {"remote": str(stack.git.repo), "branch": "main", "head": stack.git.head()},
        }


_MARK = {"succeeded": "✓", "failed": "✗"}


def print_timeline(report: dict[str, Any]) -> None:
    for execution in report["executions"]:
        print(f"{execution['name']}  {execution['status']}  {execution['durationMs']:.0f} ms")
        for state in execution["states"]:
            retries = f"  ({state['attempts']} attempts)" if state.get("attempts", 0) > 1 else ""
            print(f"  {_MARK.get(state['status'], '·')} {state['name']:<28} {state['durationMs']:>8.1f} ms{retries}")
        if execution["error"]:
            print(f"  error: {execution['error']}: {execution['cause']}")
        print()
    print("tenants:")
    for t in report["tenants"]:
        extra = t.get("gitCommit", "")[:12] or f"{t.get('failedStep')}: {t.get('failureReason')}"
        print(f"  {t['tenantId']:<40} {t['status']:<10} {t['tier']:<9} {t['deploymentModel']:<8} {extra}")
    print("events:")
    for e in report["events"]:
        d = e["detail"]
        who = d.get("tenantId") or d.get("signupId") or "-"
        print(f"  {e['detail-type']:<28} {who}")
    g = report["gitops"]
    print(f"gitops: {g['remote']} {g['branch']} @ {g['head'][:12]}")


def serve(workdir: Path) -> None:
    with LocalStack(workdir) as stack:
        machine = stack.template.ref("OnboardingStateMachine")
        print(f"AWS endpoint     {stack.endpoint}   (any access key, region us-east-1)")
        print(f"GitOps remote    {stack.git.url}   (bare repo: {stack.git.repo})")
        print(f"event bus        {stack.bus}")
        print(f"state machine    {machine}")
        print(f"handler logs     {stack.workdir / 'lambda.log'}")
        print()
        print("try:")
        print(
            f"  aws --endpoint-url {stack.endpoint} events put-events --entries "
            '\'[{"Source":"saas.signup","DetailType":"Tenant Signup Requested",'
            '"Detail":"{\\"signupId\\":\\"s-1\\",\\"tenantName\\":\\"Demo\\",'
            '\\"adminEmail\\":\\"a@b.example\\",\\"tier\\":\\"basic\\"}"}]\''
        )
        print(f"  aws --endpoint-url {stack.endpoint} stepfunctions list-executions --state-machine-arn {machine}")
        print("Ctrl-C stops the stack.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="onboarding-local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run event files through the pipeline and report")
    p_run.add_argument("files", nargs="*", type=Path, metavar="EVENT_FILE")
    p_run.add_argument("--workdir", type=Path, default=Path(".local-stack"))
    p_run.add_argument("--json", action="store_true", help="print one JSON document instead of the timeline")
    p_run.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each file to settle")
    p_serve = sub.add_parser("serve", help="keep the stack up and print its endpoints")
    p_serve.add_argument("--workdir", type=Path, default=Path(".local-stack"))
    args = parser.parse_args(argv)

    if args.command == "serve":
        serve(args.workdir)
        return 0
    files = args.files or [REPO_ROOT / "events" / name for name in DEMO_FILES]
    report = run(files, args.workdir, args.timeout)
    if args.json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False, default=str)
        print()
    else:
        print_timeline(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
