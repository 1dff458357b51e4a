"""``onboarding-local``: run the real pipeline on the embedded local stack (no AWS account, no Docker)."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from onboarding.identity import derive_tenant_id
from onboarding_local.charts import chart_dirs
from onboarding_local.stack import REPO_ROOT, LocalStack, plain

DEMO_REMOTE_ACCOUNT, DEMO_REMOTE_SIGNUP = "222222222222", "initech-signup-0003"
STATE_FILE = "state.json"  # the tenants as the last `run` left them
ENDPOINT_FILE = "endpoint"  # written by `serve` while it runs

DEMO_FILES = [
    "signup-pooled.json",
    "signup-siloed.json",
    "signup-pooled.json",  # the same signup again: a duplicate delivery changes nothing
    "signup-invalid.json",
    "signup-remote.json",
    "signup-hybrid.json",
    "tier-change.json",  # the pooled tenant moves to premium: siloed, in one commit
    "suspend.json",
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


def run(
    files: list[Path],
    workdir: Path,
    timeout: float,
    after_each: Callable[[int, LocalStack], None] | None = None,
    tenant_accounts: Sequence[tuple[str, str]] = (),
    charts: Path | None = None,
) -> dict[str, Any]:
    """Put each file's events on the bus at once; the next file starts when everything settled.

    ``after_each(index, stack)`` is called once each file has settled (tests inspect the stack there).
    ``charts``: publish every chart under it (each at its own version) instead of charts/.
    """
    batches = [load_events(f) for f in files]
    if workdir.exists():
        shutil.rmtree(workdir / "git", ignore_errors=True)
        (workdir / "lambda.log").unlink(missing_ok=True)
    with LocalStack(workdir, charts_dir=charts or REPO_ROOT / "charts") as stack:
        for account, tenant_id in tenant_accounts:
            stack.bootstrap_tenant_account(account, tenant_id)
        for index, batch in enumerate(batches):
            stack.put_events(batch)
            stack.wait_idle(timeout)
            if after_each is not None:
                after_each(index, stack)
        report = {
            "executions": [
                {k: e[k] for k in ("name", "status", "error", "cause", "durationMs", "states")}
                for e in stack.executions()
            ],
            "tenants": stack.tenants(),
            "events": stack.status_events(),
            "gitops": {"remote": str(stack.git.repo), "branch": "main", "head": stack.git.head()},
        }
    (workdir / STATE_FILE).write_text(json.dumps({"tenants": report["tenants"]}, default=str), encoding="utf-8")
    return report


def load_tenants(workdir: Path) -> list[dict[str, Any]]:
    """Tenants from a running ``serve`` in this work dir, else from the last ``run`` there."""
    endpoint_file = workdir / ENDPOINT_FILE
    if endpoint_file.exists():
        import boto3
        from boto3.dynamodb.types import TypeDeserializer

        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint_file.read_text().strip(),
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the local stack accepts any key
        )
        de = TypeDeserializer()
        items = client.scan(TableName="TenantsTable", ConsistentRead=True)["Items"]
        records = [{k: plain(de.deserialize(v)) for k, v in i.items()} for i in items]
        return sorted(records, key=lambda r: (r.get("createdAt", ""), r["tenantId"]))
    state = workdir / STATE_FILE
    if not state.exists():
        raise SystemExit(
            f"onboarding-local: no local stack state in {workdir}: run `onboarding-local run` or `serve` first"
        )
    tenants: list[dict[str, Any]] = json.loads(state.read_text(encoding="utf-8"))["tenants"]
    return tenants


def last_operation(tenant: dict[str, Any]) -> str:
    history = tenant.get("history") or []
    if not history:
        return "-"
    last = history[-1]
    return f"{last['operation']} -> {last['outcome']} at {last['at'][:19]}"


def print_tenants(tenants: list[dict[str, Any]]) -> None:
    print(f"{'TENANT':<40} {'STATUS':<10} {'TIER':<9} {'MODEL':<8} {'GIT COMMIT':<12}  LAST OPERATION")
    for t in tenants:
        commit = (t.get("gitCommit") or "-")[:12]
        print(
            f"{t['tenantId']:<40} {t['status']:<10} {t['tier']:<9} {t['deploymentModel']:<8} {commit:<12}  "
            f"{last_operation(t)}"
        )


def print_tenant(tenant: dict[str, Any]) -> None:
    print(f"{tenant['tenantId']}  {tenant['tenantName']!r}")
    print(
        f"  status {tenant['status']}, tier {tenant['tier']}, model {tenant['deploymentModel']}, "
        f"git commit {tenant.get('gitCommit') or '-'}"
    )
    if tenant.get("failedStep"):
        print(f"  failed at {tenant['failedStep']}: {tenant.get('failureReason')}")
    if tenant.get("lock"):
        lock = tenant["lock"]
        print(f"  locked by {lock['operation']} {lock['operationId']} ({lock['execution']}) since {lock['at']}")
    print("  timeline:")
    for entry in tenant.get("history") or []:
        detail = f"  {entry['detail']}" if entry.get("detail") else ""
        print(
            f"    {entry['at'][:23]:<24} {entry['operation']:<12} {entry['outcome']:<11} {entry['execution']}{detail}"
        )


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


def print_receiver(stack: LocalStack) -> None:
    """How to post a Flux event to the receiver with curl, signed as notification-controller signs it."""
    secret = stack.template.ref("FluxReceiverTokenSecret")
    print(f"  token=$(aws --endpoint-url {stack.endpoint} secretsmanager get-secret-value --secret-id {secret} \\")
    print("      --query SecretString --output text)")
    print(
        """  body='{"involvedObject":{"kind":"HelmRelease","namespace":"pool","name":"t-demo","uid":"1","""
        """"apiVersion":"helm.toolkit.fluxcd.io/v2","resourceVersion":"1"},"severity":"info","timestamp":"""
        """"2026-01-01T00:00:00Z","message":"demo","reason":"InstallSucceeded","metadata":{"revision":"1.0.0","""
        """"tenantId":"t-demo"},"reportingController":"helm-controller","reportingInstance":"helm-controller-0"}'"""
    )
    print(
        f"  curl -sS {stack.receiver_url} -H 'Content-Type: application/json' -H \"X-Signature: sha256=$(printf %s "
        '"$body" | openssl dgst -sha256 -hmac "$token" -r | cut -d" " -f1)" --data-binary "$body"'
    )


def serve(workdir: Path, charts: Path | None = None) -> None:
    with LocalStack(workdir, charts_dir=charts or REPO_ROOT / "charts") as stack:
        endpoint_file = workdir / ENDPOINT_FILE
        endpoint_file.write_text(stack.endpoint, encoding="utf-8")
        machine = stack.template.ref("OnboardingStateMachine")
        print(f"AWS endpoint     {stack.endpoint}   (any access key, region us-east-1)")
        print(f"GitOps remote    {stack.git.url}   (bare repo: {stack.git.repo})")
        print(f"event bus        {stack.bus}")
        print(f"state machine    {machine}")
        print(f"handler logs     {stack.workdir / 'lambda.log'}")
        published = ", ".join(f"{c.name} {c.version}" for c in stack.charts)
        print(f"charts           {published}   (oci://{stack.release_registry.host}/charts)")
        if stack.receiver_url:
            print(f"Flux receiver    {stack.receiver_url}   (generic-hmac; Flux is emulated on every push to main)")
        print()
        print("try:")
        print(
            f"  aws --endpoint-url {stack.endpoint} events put-events --entries "
            '\'[{"Source":"saas.signup","DetailType":"Tenant Signup Requested",'
            '"Detail":"{\\"signupId\\":\\"s-1\\",\\"tenantName\\":\\"Demo\\",'
            '\\"adminEmail\\":\\"a@b.example\\",\\"tier\\":\\"basic\\"}"}]\''
        )
        print(f"  aws --endpoint-url {stack.endpoint} stepfunctions list-executions --state-machine-arn {machine}")
        if stack.receiver_url:
            print_receiver(stack)
        print("Ctrl-C stops the stack.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        finally:
            endpoint_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="onboarding-local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run event files through the pipeline and report")
    p_run.add_argument("files", nargs="*", type=Path, metavar="EVENT_FILE")
    p_run.add_argument("--workdir", type=Path, default=Path(".local-stack"))
    p_run.add_argument("--json", action="store_true", help="print one JSON document instead of the timeline")
    p_run.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each file to settle")
    p_run.add_argument(
        "--tenant-account",
        action="append",
        default=[],
        metavar="ACCOUNT=TENANT_ID",
        help="deploy tenant-account/bootstrap.yaml in ACCOUNT for TENANT_ID first (remote tenants); repeatable",
    )
    p_serve = sub.add_parser("serve", help="keep the stack up and print its endpoints")
    p_serve.add_argument("--workdir", type=Path, default=Path(".local-stack"))
    for p in (p_run, p_serve):
        p.add_argument("--charts", type=Path, metavar="DIR", help="publish the charts under DIR instead of charts/")
    p_tenants = sub.add_parser("tenants", help="list the tenants, or show one tenant's timeline")
    p_tenants.add_argument("tenant_id", nargs="?", metavar="TENANT_ID")
    p_tenants.add_argument("--workdir", type=Path, default=Path(".local-stack"))
    p_tenants.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "tenants":
        tenants = load_tenants(args.workdir)
        if args.tenant_id:
            found = [t for t in tenants if t["tenantId"] == args.tenant_id]
            if not found:
                print(f"onboarding-local: no tenant {args.tenant_id} in {args.workdir}", file=sys.stderr)
                return 1
            tenants = found
        if args.json:
            json.dump(tenants[0] if args.tenant_id else tenants, sys.stdout, indent=2, ensure_ascii=False)
            print()
        elif args.tenant_id:
            print_tenant(tenants[0])
        else:
            print_tenants(tenants)
        return 0

    if args.charts is not None and not chart_dirs(args.charts):
        parser.error(f"--charts {args.charts}: no chart under it (a directory with a Chart.yaml)")
    if args.command == "serve":
        serve(args.workdir, args.charts)
        return 0
    accounts: list[tuple[str, str]] = []
    for item in args.tenant_account:
        account, sep, tenant_id = item.partition("=")
        if not sep or not account or not tenant_id:
            parser.error("--tenant-account takes ACCOUNT=TENANT_ID")
        accounts.append((account, tenant_id))
    files = args.files or [REPO_ROOT / "events" / name for name in DEMO_FILES]
    if not args.files:  # the demo's remote customer has deployed its bootstrap stack
        accounts.append((DEMO_REMOTE_ACCOUNT, derive_tenant_id(DEMO_REMOTE_SIGNUP)))
    report = run(files, args.workdir, args.timeout, tenant_accounts=accounts, charts=args.charts)
    if args.json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False, default=str)
        print()
    else:
        print_timeline(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
