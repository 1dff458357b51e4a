"""``onboarding-local``: run the real pipeline on the embedded local stack (no AWS account, no Docker)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from onboarding.fleet_view import tenant_timeline, tenants_table
from onboarding.identity import derive_tenant_id
from onboarding_local import findings, graph, hints, progress, releases_view
from onboarding_local import workdir as workdirs
from onboarding_local.charts import chart_dirs
from onboarding_local.gitserver import seed_source_problem
from onboarding_local.observe import list_tenants
from onboarding_local.stack import REPO_ROOT, LocalStack

DEMO_REMOTE_ACCOUNT, DEMO_REMOTE_SIGNUP = "222222222222", "initech-signup-0003"
STATE_FILE = "state.json"  # the tenants and releases as the last `run` left them
LOCAL_PARAMETERS = {"ReleasePollSeconds": "1"}  # template parameters of the local stack: release waves settle fast
Say = Callable[[str], None]
ENDPOINT_FILE = workdirs.ENDPOINT_FILE  # written by `serve` while it runs
WORKDIR_HELP = "the local stack's work dir (its GitOps repository, logs and state)"
EXIT_UNMATCHED = 3  # `run`: some event matched no rule on the bus (each is named on stderr)
MAX_WORKERS = 16  # `run --workers`: each worker process holds every function loaded

DEMO_FILES = [
    "signup-pooled.json",
    "signup-siloed.json",
    "signup-pooled.json",  # the same signup again: a duplicate delivery changes nothing
    "signup-invalid.json",
    "signup-remote.json",
    "signup-hybrid.json",
    "tier-change.json",  # the pooled tenant moves to premium: siloed, in one commit
    "suspend.json",
    "release-1.1.0.json",  # DEMO_RELEASE: the next chart version, published first, rolled out in two waves
]
DEMO_RELEASE = "release-1.1.0.json"


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
    before_each: Callable[[int, LocalStack], None] | None = None,
    say: Say | None = None,
    parameters: dict[str, str] | None = None,
    display: progress.RunProgress | None = None,
    notes: findings.RunNotes | None = None,
    gitops_from: Path | None = None,
    workers: int = 0,
) -> dict[str, Any]:
    """Put each file's events on the bus at once; the next file starts when everything settled.

    ``before_each(index, stack)`` is called before a file's events are put, ``after_each(index, stack)``
    once they have settled (tests inspect the stack there). ``charts``: publish every chart under it (each
    at its own version) instead of charts/. ``say`` is told each chart published. ``parameters``: template
    parameter overrides (LOCAL_PARAMETERS by default). ``display`` shows progress while it works; ``notes``
    collects events no rule matched, duplicate deliveries and rejected lifecycle requests. ``workers``: run the
    handlers in that many forked worker processes (workers.py) instead of this one.

    The work dir is held for the run (workdir.py): a live ``serve`` or ``run`` there makes it exit at once.
    """
    batches = [load_events(f) for f in files]
    display = display or progress.RunProgress()
    notes = notes if notes is not None else findings.RunNotes()
    overrides = LOCAL_PARAMETERS if parameters is None else parameters
    with contextlib.ExitStack() as held:
        held.enter_context(workdirs.hold(workdir, "run"))
        workdirs.fresh_start(workdir)
        stack = held.enter_context(
            LocalStack(
                workdir,
                charts_dir=charts or REPO_ROOT / "charts",
                parameters=dict(overrides),
                gitops_from=gitops_from,
                workers=workers,
            )
        )
        held.callback(display.stop)  # before the stack stops
        for chart in stack.charts:
            (say or (lambda _: None))(f"published chart {chart.name} {chart.version} to {chart.reference}")
        for account, tenant_id in tenant_accounts:
            stack.bootstrap_tenant_account(account, tenant_id)
        display.start(stack, len(batches))
        for index, batch in enumerate(batches):
            if before_each is not None:
                before_each(index, stack)
            notes.unmatched += [(str(files[index]), i, batch[i]) for i in findings.unmatched(stack, batch)]
            first_invocation = len(stack.runtime.invocations)
            display.file_started(index, files[index], len(batch))
            stack.put_events(batch)
            stack.wait_idle(timeout)
            display.file_settled(index)
            notes.duplicates += findings.duplicates(stack, first_invocation)
            if after_each is not None:
                after_each(index, stack)
        report = {
            "executions": [
                {k: e[k] for k in ("name", "status", "error", "cause", "durationMs", "states")}
                for e in stack.executions()
            ],
            "tenants": stack.tenants(),
            "events": stack.published_events(),
            "gitops": {"remote": str(stack.git.repo), "branch": "main", "head": stack.git.head()},
        }
        notes.rejections = findings.lifecycle_rejections(stack.client("stepfunctions"))
        save_state(stack, workdir, notes.rejections)
    return report


def save_state(stack: LocalStack, workdir: Path, rejections: list[dict[str, Any]]) -> None:
    """What ``tenants`` and ``releases`` show once the stack is gone: its tenants, releases, rejected requests."""
    releases = releases_view.read_releases(stack.client("dynamodb"), stack.template.ref("ReleasesTable"))
    state = {"tenants": stack.tenants(), "releases": releases, "rejections": rejections}
    (workdir / STATE_FILE).write_text(json.dumps(state, default=str), encoding="utf-8")
    graph.save_executions(stack.client("stepfunctions"), workdir)  # what `graph` draws once the stack is gone


def load_state(
    workdir: Path, key: str, live: Callable[[Any], list[dict[str, Any]]], service: str = "dynamodb"
) -> list[dict[str, Any]]:
    """``live(client)`` from a running ``serve`` in this work dir, else ``key`` of the last ``run``'s state.

    A stale endpoint file (its serve is gone) or a serve that does not answer is one line and exit 1, at once.
    """
    endpoint = workdirs.live_endpoint(workdir)
    if endpoint is not None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        client = boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the local stack accepts any key
            config=Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 1}),
        )
        try:
            return live(client)
        except BotoCoreError as exc:
            raise SystemExit(f"onboarding-local: the serve at {endpoint} does not answer: {exc}") from None
    state = workdir / STATE_FILE
    if not state.exists():
        raise SystemExit(
            f"onboarding-local: no local stack state in {workdir}: run `onboarding-local run` or `serve` first"
        )
    found: list[dict[str, Any]] = json.loads(state.read_text(encoding="utf-8")).get(key, [])
    return found


def load_tenants(workdir: Path) -> list[dict[str, Any]]:
    return load_state(workdir, "tenants", list_tenants)


def load_releases(workdir: Path) -> list[dict[str, Any]]:
    return load_state(workdir, "releases", releases_view.read_releases)


def load_rejections(workdir: Path) -> list[dict[str, Any]]:
    return load_state(workdir, "rejections", findings.lifecycle_rejections, service="stepfunctions")


_MARK = {"succeeded": "✓", "failed": "✗"}


def print_timeline(report: dict[str, Any], notes: findings.RunNotes | None = None) -> None:
    for execution in report["executions"]:
        print(f"{execution['name']}  {execution['status']}  {execution['durationMs']:.0f} ms")
        for state in execution["states"]:
            retries = f"  ({state['attempts']} attempts)" if state.get("attempts", 0) > 1 else ""
            print(f"  {_MARK.get(state['status'], '·')} {state['name']:<28} {state['durationMs']:>8.1f} ms{retries}")
        if execution["error"]:
            print(f"  error: {execution['error']}: {execution['cause']}")
        print()
    print("tenants:")
    tenants_table(report["tenants"], out=lambda line: print(f"  {line}"))
    for t in report["tenants"]:
        if t.get("failedStep"):
            print(f"  {t['tenantId']} failed at {t['failedStep']}: {t.get('failureReason')}")
    print("events:")
    for e in report["events"]:
        d = e["detail"]
        who = d.get("tenantId") or d.get("signupId") or d.get("releaseId") or "-"
        what, under = findings.event_lines(e["detail-type"], d)
        print(f"  {e['detail-type']:<31} {who}{'  ' + what if what else ''}")
        for line in under:
            print(f"      {line}")
    for duplicate in notes.duplicates if notes else []:
        print(f"  duplicate delivery: no new execution  {duplicate['tenantId']}  (execution {duplicate['execution']})")
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


def serve(workdir: Path, charts: Path | None = None, gitops_from: Path | None = None) -> None:
    """Hold the work dir, start from an empty GitOps repository (the tables start empty), print how to use it."""
    with workdirs.hold(workdir, "serve"):
        workdirs.fresh_start(workdir)
        serve_held(workdir, charts, gitops_from)


def serve_held(workdir: Path, charts: Path | None, gitops_from: Path | None = None) -> None:
    """Print the endpoints and how to use them, then wait for Ctrl-C or SIGTERM; save the state it leaves."""
    options: dict[str, Any] = {"parameters": dict(LOCAL_PARAMETERS), "gitops_from": gitops_from}
    with LocalStack(workdir, charts_dir=charts or REPO_ROOT / "charts", **options) as stack:
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
        print("for the AWS CLI (any key works here; the CLI needs one to sign):")
        region = stack.template.ref("AWS::Region")
        print("\n".join(f"  {line}" for line in hints.exports(stack.endpoint, region)))
        print("try:")
        params = stack.template.params
        print("\n".join(f"  {line}" for line in hints.try_commands(stack.bus, params["SignupEventSource"], machine)))
        print("subscribe to the outcome events (an EventBridge rule to an SQS queue):")
        account = stack.template.ref("AWS::AccountId")
        subscribe = hints.subscribe_commands(stack.bus, stack.status_source, account, region)
        print("\n".join(f"  {line}" for line in subscribe))
        if stack.receiver_url:
            print("post a Flux event to the receiver, signed as notification-controller signs it:")
            print_receiver(stack)
        print("Ctrl-C stops the stack.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(0.5):  # a short wait: the SIGTERM handler runs between waits
                    pass
        finally:
            endpoint_file.unlink(missing_ok=True)
            save_state(stack, workdir, findings.lifecycle_rejections(stack.client("stepfunctions")))


def show(command: str, item_id: str | None, workdir: Path, as_json: bool) -> int:
    """``tenants`` or ``releases``: the list, or one of them (its timeline)."""
    key, one, many = {
        "tenants": ("tenantId", tenant_timeline, tenants_table),
        "releases": ("releaseId", releases_view.release_timeline, releases_view.releases_table),
    }[command]
    items = load_tenants(workdir) if command == "tenants" else load_releases(workdir)
    if item_id:
        items = [i for i in items if i[key] == item_id]
        if not items:
            print(f"onboarding-local: no {command[:-1]} {item_id} in {workdir}", file=sys.stderr)
            return 1
    if as_json:
        json.dump(items[0] if item_id else items, sys.stdout, indent=2, ensure_ascii=False, default=str)
        print()
    elif item_id and command == "tenants":  # its rejected requests too, which left its record unchanged
        one(findings.with_rejections(items[0], load_rejections(workdir)))
    elif item_id:
        one(items[0])
    else:
        many(items)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="onboarding-local", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run event files through the pipeline and report")
    p_run.add_argument("files", nargs="*", type=Path, metavar="EVENT_FILE")
    p_run.add_argument("--workdir", type=Path, default=Path(".local-stack"), help=WORKDIR_HELP)
    p_run.add_argument("--json", action="store_true", help="print one JSON document instead of the timeline")
    p_run.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each file to settle")
    p_run.add_argument(
        "--tenant-account",
        action="append",
        default=[],
        metavar="ACCOUNT=TENANT_ID",
        help="deploy tenant-account/bootstrap.yaml in ACCOUNT for TENANT_ID first (remote tenants); repeatable",
    )
    p_run.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help=f"run the handlers in N forked worker processes (0 to {MAX_WORKERS}; 0: in the stack's own process)",
    )
    p_serve = sub.add_parser("serve", help="keep the stack up and print its endpoints")
    p_serve.add_argument("--workdir", type=Path, default=Path(".local-stack"), help=WORKDIR_HELP)
    for p in (p_run, p_serve):
        p.add_argument("--charts", type=Path, metavar="DIR", help="publish the charts under DIR instead of charts/")
        p.add_argument("--gitops-from", type=Path, metavar="PATH", help="seed the GitOps remote from PATH's main")
    p_tenants = sub.add_parser("tenants", help="list the tenants, or show one tenant's timeline")
    p_tenants.add_argument("item_id", nargs="?", metavar="TENANT_ID")
    p_releases = sub.add_parser("releases", help="list the fleet releases, or show one release's waves")
    p_releases.add_argument("item_id", nargs="?", metavar="RELEASE_ID")
    for p in (p_tenants, p_releases):
        p.add_argument("--workdir", type=Path, default=Path(".local-stack"), help="the work dir to read")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table or timeline")
    p_tenant_id = sub.add_parser("tenant-id", help="print the tenant id the pipeline derives from a signupId")
    p_tenant_id.add_argument("signup_id", metavar="SIGNUP_ID")
    graph.register(sub)
    for p in sub.choices.values():  # every subcommand's help shows its defaults
        p.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    args = parser.parse_args(argv)

    if args.command == "tenant-id":
        print(derive_tenant_id(args.signup_id))
        return 0
    if args.command == "graph":
        return graph.run(args)
    if args.command in ("tenants", "releases"):
        return show(args.command, args.item_id, args.workdir, args.json)

    if args.charts is not None and not chart_dirs(args.charts):
        parser.error(f"--charts {args.charts}: no chart under it (a directory with a Chart.yaml)")
    if args.gitops_from is not None and (problem := seed_source_problem(args.gitops_from)):
        parser.error(f"--gitops-from: {problem}")
    if args.command == "serve":
        serve(args.workdir, args.charts, args.gitops_from)
        return 0
    if not 0 <= args.workers <= MAX_WORKERS:
        parser.error(f"--workers {args.workers}: must be from 0 to {MAX_WORKERS}")
    accounts: list[tuple[str, str]] = []
    for item in args.tenant_account:
        account, sep, tenant_id = item.partition("=")
        if not sep or not account or not tenant_id:
            parser.error("--tenant-account takes ACCOUNT=TENANT_ID")
        accounts.append((account, tenant_id))
    files = args.files or [REPO_ROOT / "events" / name for name in DEMO_FILES]
    if not args.files:  # the demo's remote customer has deployed its bootstrap stack
        accounts.append((DEMO_REMOTE_ACCOUNT, derive_tenant_id(DEMO_REMOTE_SIGNUP)))
    say: Say = (lambda _: None) if args.json else print
    before = None if args.files else releases_view.publish_demo_release(files, DEMO_RELEASE, say)
    notes = findings.RunNotes()
    stdout = sys.stdout
    # with --json, stdout is the JSON document alone: anything else printed while the stack runs goes to stderr
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        report = run(files, args.workdir, args.timeout, tenant_accounts=accounts, charts=args.charts,
                     before_each=before, say=say, display=progress.for_run(args.json), notes=notes,
                     gitops_from=args.gitops_from, workers=args.workers)  # fmt: skip
    if args.json:
        json.dump(report, stdout, indent=2, ensure_ascii=False, default=str)
        print(file=stdout)
    else:
        print_timeline(report, notes)
    for warning in notes.warnings():
        print(warning, file=sys.stderr)
    return EXIT_UNMATCHED if notes.unmatched else 0


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tenant-onboarding")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
