"""What the local stack shows of a run: tenant records as plain JSON, executions with their states, dead letters."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer


def plain(value: Any) -> Any:
    """A deserialized DynamoDB value as plain JSON types (Decimal -> int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def list_tenants(ddb: Any) -> list[dict[str, Any]]:
    """Every tenant record, oldest first (then by tenantId)."""
    pages = ddb.get_paginator("scan").paginate(TableName="TenantsTable", ConsistentRead=True)  # 1 MB per page
    return oldest_first([_record(item) for page in pages for item in page["Items"]])


def _record(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as a plain JSON record."""
    de = TypeDeserializer()
    return {k: plain(de.deserialize(v)) for k, v in item.items()}


def oldest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tenant records oldest first, then by tenantId (as ``list_tenants`` gives them)."""
    return sorted(records, key=lambda r: (r.get("createdAt", ""), r["tenantId"]))


def get_tenant(ddb: Any, tenant_id: str) -> dict[str, Any] | None:
    """One tenant record (a consistent read), or None."""
    item = ddb.get_item(TableName="TenantsTable", Key={"tenantId": {"S": tenant_id}}, ConsistentRead=True).get("Item")
    return None if item is None else _record(item)


def tenant_ids(ddb: Any) -> set[str]:
    """The id of every tenant record (a consistent scan of the keys only)."""
    pages = ddb.get_paginator("scan").paginate(
        TableName="TenantsTable", ConsistentRead=True, ProjectionExpression="tenantId"
    )
    return {item["tenantId"]["S"] for page in pages for item in page["Items"]}


def list_dead_letters(sqs: Any, queue: str) -> list[dict[str, Any]]:
    """Up to 10 message bodies on ``queue``, left visible."""
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def list_executions(sfn: Any) -> list[dict[str, Any]]:
    """Every execution of every state machine, described (``describe_execution``), oldest first."""
    result = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
        for page in pages:
            result += [describe_execution(sfn, summary["executionArn"]) for summary in page["executions"]]
    return sorted(result, key=lambda e: e["startDate"])


def describe_execution(sfn: Any, arn: str) -> dict[str, Any]:
    """An execution with its states: name, status (succeeded, failed, caught), duration, attempts."""
    info = sfn.describe_execution(executionArn=arn)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    states: list[dict[str, Any]] = []
    open_state: dict[str, Any] | None = None
    for ev in events:
        kind = ev["type"]
        if kind.endswith("StateEntered"):
            open_state = {
                "name": ev["stateEnteredEventDetails"]["name"],
                "status": "succeeded",
                "_start": ev["timestamp"],
                "attempts": 0,
            }
            states.append(open_state)
            if kind in ("FailStateEntered",):
                open_state["status"] = "failed"
        elif open_state is not None and kind in ("LambdaFunctionScheduled", "TaskScheduled"):
            open_state["attempts"] += 1
        elif open_state is not None and kind in (
            "LambdaFunctionFailed",
            "TaskFailed",
            "LambdaFunctionTimedOut",
            "TaskTimedOut",
        ):
            open_state["status"] = "failed"
            open_state["_end"] = ev["timestamp"]
        elif open_state is not None and kind in ("LambdaFunctionSucceeded", "TaskSucceeded"):
            open_state["status"] = "succeeded"
        elif kind.endswith("StateExited") and open_state is not None:
            open_state["_end"] = ev["timestamp"]
            open_state = None
    stop = info.get("stopDate") or (events[-1]["timestamp"] if events else info["startDate"])
    for state in states:
        end = state.pop("_end", None) or stop
        state["durationMs"] = round((end - state.pop("_start")).total_seconds() * 1000, 1)
    return {
        "name": info["name"],
        "status": info["status"],
        "error": info.get("error"),
        "cause": info.get("cause"),
        "durationMs": round((stop - info["startDate"]).total_seconds() * 1000, 1),
        "startDate": info["startDate"].isoformat(),
        "input": json.loads(info.get("input") or "{}"),
        "states": states,
    }
