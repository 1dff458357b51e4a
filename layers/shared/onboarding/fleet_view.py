"""The fleet views shared by `tenant-onboarding tenants` (a deployed stack) and `onboarding-local tenants`.

Both read tenant records as their JSON form (camelCase, as DynamoDB holds them) and print the same
table of tenants and the same timeline of one tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Print = Callable[[str], None]


def last_operation(tenant: dict[str, Any]) -> str:
    history = tenant.get("history") or []
    if not history:
        return "-"
    last = history[-1]
    return f"{last['operation']} -> {last['outcome']} at {str(last['at'])[:19]}"


def tenants_table(tenants: list[dict[str, Any]], out: Print = print) -> None:
    out(f"{'TENANT':<40} {'STATUS':<10} {'TIER':<9} {'MODEL':<8} {'CHART':<9} {'GIT COMMIT':<12}  LAST OPERATION")
    for t in tenants:
        commit = (t.get("gitCommit") or "-")[:12]
        chart = t.get("chartVersion") or "-"
        out(
            f"{t['tenantId']:<40} {t['status']:<10} {t['tier']:<9} {t['deploymentModel']:<8} {chart:<9} {commit:<12}  "
            f"{last_operation(t)}"
        )


def tenant_timeline(tenant: dict[str, Any], out: Print = print) -> None:
    out(f"{tenant['tenantId']}  {tenant['tenantName']!r}")
    out(
        f"  status {tenant['status']}, tier {tenant['tier']}, model {tenant['deploymentModel']}, "
        f"chart {tenant.get('chartVersion') or '-'}, git commit {tenant.get('gitCommit') or '-'}"
    )
    if tenant.get("reconciledAt"):
        out(f"  reconciled by Flux at {tenant['reconciledAt']}")
    if tenant.get("failedStep"):
        out(f"  failed at {tenant['failedStep']}: {tenant.get('failureReason')}")
    if tenant.get("lock"):
        lock = tenant["lock"]
        out(f"  locked by {lock['operation']} {lock['operationId']} ({lock['execution']}) since {lock['at']}")
    out("  timeline:")
    for entry in tenant.get("history") or []:
        detail = f"  {entry['detail']}" if entry.get("detail") else ""
        at = str(entry["at"])[:23]
        out(f"    {at:<24} {entry['operation']:<12} {entry['outcome']:<11} {entry['execution']}{detail}")
