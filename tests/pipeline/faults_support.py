"""The fault suite's tables and driver: one burst of cases on one local stack, each case its own tenant.

A case aims faults (onboarding_local.faults.Rule) at one handler's call, matched by the tenant's signupId or
tenantId in the invocation payload, so every case of a table runs at once and the retries' waits overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from onboarding.identity import derive_tenant_id
from onboarding_local.agreement import Findings, Inspector, running_executions
from onboarding_local.faults import Rule, arm
from tests.conftest import signup_event
from tests.utils.operations import request


@dataclass
class Case:
    id: str
    model: str
    function: str
    target: str
    kind: str
    operation: str | None = None  # a lifecycle operation; None: onboarding
    extra: list[Rule] = field(default_factory=list)  # further faults (a permanent failure, ...)
    expect: str = "done"  # "done": the onboarding/operation succeeds; "failed": it fails and is undone
    index: int = 0
    rules: list[Rule] = field(default_factory=list)

    @property
    def signup_id(self) -> str:
        return f"fx-{self.index:03d}"

    @property
    def tenant_id(self) -> str:
        return derive_tenant_id(self.signup_id)


def hybrid_detail(index: int) -> dict[str, Any]:
    return {
        "nodeCidrs": [f"10.{40 + index}.0.0/24"],
        "podCidrs": [f"10.{40 + index}.128.0/20"],
        "nodeCount": 2,
        "supportingServices": "bundled",
    }


TIERS = {"pooled": "basic", "siloed": "premium", "remote": "advanced", "hybrid": "advanced"}


def signup(case: Case, account: str, region: str) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if case.model == "remote":
        extra = {"deploymentModel": "remote", "awsAccountId": account, "region": region}
    elif case.model == "hybrid":
        extra = {"deploymentModel": "hybrid", "hybrid": hybrid_detail(case.index)}
    return signup_event(case.signup_id, f"Fault Case {case.index}", tier=TIERS[case.model], **extra)


def operation_request(case: Case) -> dict[str, Any]:
    assert case.operation is not None
    extra: dict[str, Any] = {}
    if case.operation == "change-tier":
        extra = {"tier": "premium", "dataPlan": "keep"} if case.model == "pooled" else {"tier": "advanced"}
    return request(case.operation, case.tenant_id, f"op-{case.index:03d}", **extra)


def aim(stack: Any, case: Case) -> None:
    """The case's faults, aimed at its own tenant: its id in the invocation's payload (the signup's id at
    intake, where there is no tenant id yet); for git, in the paths written."""
    match: str | None = f'"{case.signup_id}"' if case.function == "IntakeFunction" else case.tenant_id
    if case.function == "BuildCallbackFunction":
        match = None  # CodeBuild's event names the build, not the tenant: the first remote tenant's callback
    primary = Rule(target=case.target, kind=case.kind, function=case.function, match=match)
    case.rules = [arm(stack).add(git_aimed(primary, case.tenant_id))]
    for rule in case.extra:
        rule.match = match
        git_aimed(rule, case.tenant_id)
        case.rules.append(arm(stack).add(rule))


def git_aimed(rule: Rule, tenant_id: str) -> Rule:
    """A git fault matches the tenant's paths, whichever invocation writes them (a batch carries many tenants)."""
    if rule.target.startswith("git."):
        rule.match, rule.function = f"{tenant_id}", None
    return rule


def run(stack: Any, events: list[dict[str, Any]], timeout: float = 600) -> None:
    stack.put_events(events)
    stack.wait_idle(timeout)


@dataclass
class Outcome:
    record: dict[str, Any] | None
    findings: Findings
    events: list[dict[str, Any]]  # (detail-type, detail) of the tenant's status events
    unfired: list[Rule]
    running: list[str]
    before: dict[str, Any] | None = None  # a lifecycle case's record before its operation


def outcomes(stack: Any, cases: list[Case]) -> dict[str, Outcome]:
    inspector = Inspector(stack)
    findings = inspector.check([c.tenant_id for c in cases])
    running = running_executions(stack)
    events = stack.status_events()
    records = {t["tenantId"]: t for t in stack.tenants()}
    result = {}
    for case in cases:
        mine = [
            {"type": e["detail-type"], **e["detail"]} for e in events if e["detail"].get("tenantId") == case.tenant_id
        ]
        result[case.id] = Outcome(
            record=records.get(case.tenant_id),
            findings=findings[case.tenant_id],
            events=mine,
            unfired=[r for r in case.rules if r.times > 0],
            running=running,
        )
    return result


def numbered(rows: list[Any], start: int) -> list[Case]:
    return [
        Case(id=i, model=m, function=f, target=t, kind=k, operation=o, index=start + n)
        for n, (i, m, f, t, k, o) in enumerate(rows)
    ]
