"""``tenant-onboarding``: the product's command line (console script ``onboarding.cli:main``).

    tenant-onboarding gitops-bootstrap --cluster NAME --chart-registry oci://HOST/PATH --receiver-url URL
        [--chart-registry-provider aws|generic] [--out DIR] [--gitops-branch main] [--interval 5m]
        [--ingress-namespace ingress-nginx] [--force]

writes the files a user commits once to the GitOps repository (``onboarding.bootstrap``) and prints
the path of each, one per line. An existing file with other content is never overwritten without
``--force``; an identical one is left alone. Bad input exits 2 with one line naming the flag.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from onboarding.bootstrap import (
    CHART_REGISTRY_PROVIDERS,
    FLUX_NAMESPACE,
    RECEIVER_SECRET,
    RECEIVER_SECRET_KEY,
    BootstrapOptions,
    InvalidBootstrapOption,
    bootstrap_files,
)
from onboarding.records import TenantStatus

PROG = "tenant-onboarding"
USAGE_ERROR = 2  # argparse's own exit status for bad usage
CONFLICT = 1


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Tenant onboarding for SaaS on AWS: operator commands.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    boot = commands.add_parser(
        "gitops-bootstrap",
        help="write the files to commit once to the GitOps repository",
        description="Write the Flux objects a GitOps repository needs before the pipeline commits tenants to it: "
        "the cluster's Kustomizations, the chart source, the pool namespace and the notifications to the receiver. "
        "See docs/production-path.md.",
    )
    boot.add_argument("--cluster", required=True, help="cluster name: writes clusters/NAME/ (a DNS-1123 label)")
    boot.add_argument("--chart-registry", required=True, metavar="oci://HOST/PATH", help="where the tenant chart is")
    boot.add_argument(
        "--chart-registry-provider",
        choices=CHART_REGISTRY_PROVIDERS,
        help="how Flux signs in to the chart registry (default: aws for an ECR registry, generic otherwise)",
    )
    boot.add_argument("--receiver-url", required=True, metavar="URL", help="the Flux event receiver's https URL")
    boot.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="the GitOps checkout (default: .)")
    boot.add_argument("--gitops-branch", default="main", help="the branch Flux syncs (default: main)")
    boot.add_argument("--interval", default="5m", help="reconcile interval of the Flux objects (default: 5m)")
    boot.add_argument("--ingress-namespace", default="ingress-nginx", help="the ingress controller's namespace")
    boot.add_argument("--force", action="store_true", help="overwrite existing files whose content differs")
    sync = commands.add_parser(
        "customer-sync",
        help="print the Flux objects a remote customer applies once in its own cluster",
        description="Print the OCIRepository (provider aws) and Kustomization a remote customer applies in its own "
        "cluster: its Flux then reads only its own tenant's manifests, from its own ECR. See "
        "docs/remote-customer-runbook.md.",
    )
    sync.add_argument("--tenant-id", required=True, help="the tenant's id (t-...)")
    sync.add_argument("--account", required=True, help="the customer's AWS account id (12 digits)")
    sync.add_argument("--region", required=True, help="the region of the customer's ECR")
    fleet = commands.add_parser(
        "tenants",
        help="the fleet of a deployed stack: every tenant, the tenants in one status, or one tenant's timeline",
        description="Read the tenants of a deployed stack (its TenantsTableName output) through the status "
        "index: a query per status, never a scan. The same views as `onboarding-local tenants`.",
    )
    fleet.add_argument("tenant_id", nargs="?", metavar="TENANT_ID", help="show this tenant's timeline")
    fleet.add_argument("--stack", required=True, help="the deployed stack's name")
    fleet.add_argument("--status", choices=[s.value for s in TenantStatus], help="only the tenants in this status")
    fleet.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    fleet.add_argument("--json", action="store_true", help="print JSON instead of the table or timeline")
    return parser


def _fail(command: str, message: str, status: int) -> int:
    print(f"{PROG} {command}: {message}", file=sys.stderr)
    return status


def _compare(files: dict[str, str], out: Path) -> tuple[set[str], list[str]]:
    """The files already there with the same content, and those there with other content."""
    unchanged: set[str] = set()
    conflicts: list[str] = []
    for path, text in files.items():
        target = out / path
        if target.is_dir() or (target.exists() and target.read_bytes() != text.encode("utf-8")):
            conflicts.append(path)
        elif target.exists():
            unchanged.add(path)
    return unchanged, conflicts


def gitops_bootstrap(args: argparse.Namespace) -> int:
    command = "gitops-bootstrap"
    try:
        options = BootstrapOptions(
            cluster=args.cluster,
            chart_registry=args.chart_registry,
            receiver_url=args.receiver_url,
            chart_registry_provider=args.chart_registry_provider,
            interval=args.interval,
            ingress_namespace=args.ingress_namespace,
            gitops_branch=args.gitops_branch,
        )
    except InvalidBootstrapOption as exc:
        return _fail(command, str(exc), USAGE_ERROR)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(command, f"--out: {str(out)!r} is not a directory", USAGE_ERROR)

    files = bootstrap_files(options)
    try:
        unchanged, conflicts = _compare(files, out)
        if conflicts and not args.force:
            listed = ", ".join(conflicts)
            return _fail(command, f"{listed} exist(s) in {str(out)!r} with other content; --force overwrites", CONFLICT)
        for path, text in files.items():
            target = out / path
            if path in unchanged:
                print(f"{target} (unchanged)")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
            print(target)
    except OSError as exc:
        return _fail(command, f"--out: cannot write in {str(out)!r}: {exc.strerror or exc}", CONFLICT)
    print(
        f"next: commit these files to {options.gitops_branch!r} of the GitOps repository that Flux syncs at "
        f"clusters/{options.cluster}, and create the Secret {FLUX_NAMESPACE}/{RECEIVER_SECRET} "
        f"(key {RECEIVER_SECRET_KEY!r}): see docs/production-path.md",
        file=sys.stderr,
    )
    return 0


def show_tenants(args: argparse.Namespace) -> int:
    """`tenants --stack`: the fleet of a deployed stack, by status index queries (never a scan)."""
    from onboarding.errors import OnboardingError
    from onboarding.fleet_view import tenant_timeline, tenants_table
    from onboarding.runtime import deployed_tenant_store

    try:
        store = deployed_tenant_store(args.stack, args.region)
        if store is None:
            return _fail("tenants", f"--stack: {args.stack} has no TenantsTableName output", USAGE_ERROR)
        if args.tenant_id:
            record = store.get(args.tenant_id)
            if record is None:
                return _fail("tenants", f"no tenant {args.tenant_id} in stack {args.stack}", 1)
            records = [record]
        else:
            statuses = [TenantStatus(args.status)] if args.status else list(TenantStatus)
            records = [r for status in statuses for r in store.by_status(status)]
    except OnboardingError as exc:
        return _fail("tenants", str(exc), 1)
    tenants = sorted((r.item() for r in records), key=lambda r: (str(r.get("createdAt", "")), r["tenantId"]))
    if args.json:
        sys.stdout.write(json.dumps(tenants[0] if args.tenant_id else tenants, indent=2, ensure_ascii=False) + "\n")
    elif args.tenant_id:
        tenant_timeline(tenants[0])
    else:
        tenants_table(tenants)
    return 0


def print_customer_sync(args: argparse.Namespace) -> int:
    from onboarding.contract.common import TENANT_ID_FIELD_PATTERN
    from onboarding.contract.signup import ACCOUNT_ID_PATTERN, REGION_PATTERN
    from onboarding.delivery import customer_sync

    for flag, value, pattern in (
        ("--tenant-id", args.tenant_id, TENANT_ID_FIELD_PATTERN),
        ("--account", args.account, ACCOUNT_ID_PATTERN),
        ("--region", args.region, REGION_PATTERN),
    ):
        if not re.fullmatch(pattern.strip("^$"), value):
            return _fail("customer-sync", f"{flag}: {value!r} does not match {pattern}", USAGE_ERROR)
    sys.stdout.write(customer_sync(args.tenant_id, args.account, args.region))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "gitops-bootstrap":
        return gitops_bootstrap(args)
    if args.command == "customer-sync":
        return print_customer_sync(args)
    if args.command == "tenants":
        return show_tenants(args)
    return _fail(args.command, "unknown command", USAGE_ERROR)  # pragma: no cover - argparse refuses it first


if __name__ == "__main__":
    sys.exit(main())
