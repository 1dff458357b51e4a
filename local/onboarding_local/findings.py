"""What a run's default output must not leave out, found on the running stack.

- events that matched no rule on the bus (a typo in ``detail-type``): nothing received them;
- duplicate deliveries: the intake answered ``duplicate``, so no new execution started;
- rejections, with their reasons: a signup's and a lifecycle request's ``errors``;
- rejected lifecycle requests, per tenant, for the tenant's timeline: the lifecycle execution that ended in
  ``RejectOperation`` keeps the tenant record unchanged (as on AWS), so its reason is read from the
  execution's output, and shown beside the record's own history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from onboarding.contract.lifecycle import OperationRejectedEvent
from onboarding.contract.signup import OnboardingFailed, SignupRejected
from onboarding_local import releases_view

if TYPE_CHECKING:
    from onboarding_local.stack import LocalStack

REJECTIONS = (SignupRejected.DETAIL_TYPE, OperationRejectedEvent.DETAIL_TYPE)


def unmatched(stack: LocalStack, events: list[dict[str, Any]]) -> list[int]:
    """The indexes of ``events`` (EventBridge envelopes, as in events/) that no rule on the stack's bus matches."""
    from moto.events.models import EventPattern

    client = stack.client("events")
    patterns = []
    for page in client.get_paginator("list_rules").paginate(EventBusName=stack.bus):
        patterns += [EventPattern.load(rule["EventPattern"]) for rule in page["Rules"] if rule.get("EventPattern")]
    found = []
    for index, event in enumerate(events):
        candidate = {
            "version": "0",
            "id": "local",
            "detail-type": event["detail-type"],
            "source": event["source"],
            "account": stack.template.ref("AWS::AccountId"),
            "time": datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": stack.template.ref("AWS::Region"),
            "resources": event.get("resources", []),
            "detail": event["detail"],
        }
        if not any(pattern.matches_event(candidate) for pattern in patterns):
            found.append(index)
    return found


def duplicates(stack: LocalStack, since: int = 0) -> list[dict[str, Any]]:
    """The intakes' ``duplicate`` answers among the handler invocations from index ``since`` on."""
    answers = []
    for invocation in stack.runtime.invocations[since:]:
        result = invocation.result
        if isinstance(result, dict) and result.get("outcome") == "duplicate":
            answers.append({"tenantId": result.get("tenantId"), "execution": result.get("execution")})
    return answers


def reasons(detail: dict[str, Any]) -> list[str]:
    """A rejection's ``errors`` as ``field: message`` lines."""
    return [f"{e.get('field')}: {e.get('message')}" for e in detail.get("errors") or [] if isinstance(e, dict)]


def event_lines(detail_type: str, detail: dict[str, Any]) -> tuple[str, list[str]]:
    """An outcome event for the run's event list: a one-line note, and lines under it (a rejection's reasons)."""
    if detail_type in REJECTIONS:
        operation = detail.get("operation")
        return (f"{operation} rejected" if operation else "rejected"), reasons(detail)
    if detail_type == OnboardingFailed.DETAIL_TYPE:
        return f"failed at {detail.get('failedStep')}: {detail.get('error')}", []
    return releases_view.describe_event(detail_type, detail), []


def lifecycle_rejections(sfn: Any) -> list[dict[str, Any]]:
    """Every lifecycle request rejected so far, oldest first, as a tenant history entry with ``tenantId``:
    {tenantId, at, operation, execution, outcome: REJECTED, detail: the reasons}."""
    found = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine["stateMachineArn"], statusFilter="SUCCEEDED"
        )
        for page in pages:
            for summary in page["executions"]:
                if not summary["name"].startswith("op-"):  # identity.operation_execution_name
                    continue
                info = sfn.describe_execution(executionArn=summary["executionArn"])
                rejection = json.loads(info.get("output") or "{}").get("rejection")
                if not isinstance(rejection, dict) or not rejection.get("tenantId"):
                    continue
                found.append(
                    {
                        "tenantId": rejection["tenantId"],
                        "at": info["stopDate"].isoformat(),
                        "operation": rejection.get("operation") or "-",
                        "execution": info["name"],
                        "outcome": "REJECTED",
                        "detail": "; ".join(reasons(rejection)),
                    }
                )
    return sorted(found, key=lambda r: r["at"])


def with_rejections(tenant: dict[str, Any], rejections: list[dict[str, Any]]) -> dict[str, Any]:
    """The tenant as its timeline shows it: its history and its rejected requests, in time order."""
    mine = [{k: v for k, v in r.items() if k != "tenantId"} for r in rejections if r["tenantId"] == tenant["tenantId"]]
    if not mine:
        return tenant
    history = sorted([*(tenant.get("history") or []), *mine], key=lambda entry: str(entry["at"]))
    return {**tenant, "history": history}


@dataclass
class RunNotes:
    """What ``run`` found beside its report: events no rule matched, duplicate deliveries, rejected requests."""

    unmatched: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # (file, index, event)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def warnings(self) -> list[str]:
        return [
            f"warning: {file} event {index} (source {event['source']!r}, detail-type {event['detail-type']!r}) "
            "matched no rule: nothing received it"
            for file, index, event in self.unmatched
        ]
