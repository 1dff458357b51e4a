"""The cost model: what one onboarding of each deployment model, and one tenant of a fleet release, costs on AWS.

Counted on the embedded local stack (the real state machines, the real handlers in-process):

- AWS API calls the handlers make, by ``service:Operation`` (a hook on botocore's ``_make_api_call`` that counts
  only calls made inside a handler invocation, so the local stack's own calls are left out);
- Lambda invocations and their handler milliseconds (the local runtime's record);
- Step Functions state transitions: states entered, plus each retry, as AWS bills them (from the history);
- EventBridge events: entries of the handlers' PutEvents, plus the inbound request itself.

Then priced at the AWS list prices in ``PRICES`` (us-east-1; where each was read is in docs/benchmarks.md).
Handler milliseconds here are this machine's, in-process, warm; on Lambda at 512 MB (a third of a vCPU) they are
longer, so the Lambda duration line is a lower bound. Run alone: ``.venv/bin/python benchmarks/costs.py``.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import BENCH_DIR
from benchmarks.signups import HYBRID_FIRST_OCTET, REMOTE_ACCOUNT, model_signup

MODELS = ("pooled", "siloed", "remote", "hybrid")
PRICES = {  # USD, us-east-1
    "lambdaRequest": 0.20 / 1e6,
    "lambdaGbSecondArm": 0.0000133334,
    "stateTransition": 0.025 / 1000,
    "dynamodbWriteUnit": 0.625 / 1e6,
    "dynamodbReadUnit": 0.125 / 1e6,
    "eventBridgeEvent": 1.00 / 1e6,
    "codebuildMinuteGeneral1Small": 0.005,
    "secretsManagerCall": 0.05 / 10_000,
    "secretsManagerSecretMonth": 0.40,
    "s3Put": 0.005 / 1000,
    "s3Get": 0.0004 / 1000,
}
MEMORY_GB = 0.5  # template.yaml Globals: MemorySize 512, arm64
DYNAMODB_WRITES = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1, "BatchWriteItem": 1}
DYNAMODB_READS = {"GetItem": 1, "Query": 1, "Scan": 1, "BatchGetItem": 1}


class CallCounter:
    """Counts the AWS calls made inside handler invocations, with the items each DynamoDB call touches."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.calls: Counter[str] = Counter()
        self.call_ms: defaultdict[str, float] = defaultdict(
            float
        )  # per "<function> <service:Operation>": wall time inside the call
        self.dynamodb_units = {"read": 0.0, "write": 0.0}
        self.events = 0

    def __enter__(self) -> CallCounter:
        from botocore.client import BaseClient

        self._original = BaseClient._make_api_call  # type: ignore[attr-defined]
        counter = self

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            spec = getattr(counter.runtime._current, "spec", None)
            if spec is None:
                return counter._original(client, operation, params)
            key = counter.record(client.meta.service_model.service_name, operation, params)
            started = time.perf_counter()
            try:
                return counter._original(client, operation, params)
            finally:
                counter.call_ms[f"{spec.name} {key}"] += (time.perf_counter() - started) * 1000

        BaseClient._make_api_call = counted  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original  # type: ignore[attr-defined]

    def record(self, service: str, operation: str, params: dict[str, Any]) -> str:
        key = f"{service}:{operation}"
        self.calls[key] += 1
        if service == "dynamodb":  # request units for items under 1 KB (writes) and 4 KB (reads), as ours are
            strong = 1.0 if params.get("ConsistentRead") else 0.5
            if operation == "TransactWriteItems":
                self.dynamodb_units["write"] += 2 * len(params["TransactItems"])
            elif operation == "BatchGetItem":
                for table in params["RequestItems"].values():
                    self.dynamodb_units["read"] += len(table["Keys"]) * (1.0 if table.get("ConsistentRead") else 0.5)
            elif operation in DYNAMODB_WRITES:
                self.dynamodb_units["write"] += 1
            elif operation in DYNAMODB_READS:
                self.dynamodb_units["read"] += strong
        if service == "events" and operation == "PutEvents":
            self.events += len(params["Entries"])
        return key

    def take(self) -> dict[str, Any]:
        taken = {
            "calls": dict(sorted(self.calls.items())),
            "dynamodbUnits": dict(self.dynamodb_units),
            "events": self.events,
            "callMs": {k: round(v, 1) for k, v in sorted(self.call_ms.items())},
        }
        self.calls.clear()
        self.call_ms.clear()
        self.dynamodb_units = {"read": 0.0, "write": 0.0}
        self.events = 0
        return taken


def transitions(history: list[dict[str, Any]]) -> int:
    """States entered, plus retries (each further scheduling of a task in the same state), as AWS bills them."""
    entered = sum(1 for e in history if e["type"].endswith("StateEntered"))
    scheduled = sum(1 for e in history if e["type"] in ("TaskScheduled", "LambdaFunctionScheduled"))
    task_entered = sum(1 for e in history if e["type"] == "TaskStateEntered")
    return entered + max(0, scheduled - task_entered)


def history(stack: Any, arn: str) -> list[dict[str, Any]]:
    sfn, events, token = stack.client("stepfunctions"), [], None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def price(sample: dict[str, Any]) -> dict[str, float]:
    """USD of one unit (an onboarding, or a tenant of a release) by line."""
    calls = sample["calls"]
    lines = {
        "lambdaRequests": sample["invocations"] * PRICES["lambdaRequest"],
        "lambdaDuration": sample["handlerMs"] / 1000 * MEMORY_GB * PRICES["lambdaGbSecondArm"],
        "stepFunctions": sample["transitions"] * PRICES["stateTransition"],
        "dynamodb": sample["dynamodbUnits"]["write"] * PRICES["dynamodbWriteUnit"]
        + sample["dynamodbUnits"]["read"] * PRICES["dynamodbReadUnit"],
        "eventBridge": sample["events"] * PRICES["eventBridgeEvent"],
        "secretsManager": sum(n for k, n in calls.items() if k.startswith("secretsmanager:"))
        * PRICES["secretsManagerCall"],
        "s3": calls.get("s3:PutObject", 0) * PRICES["s3Put"] + calls.get("s3:GetObject", 0) * PRICES["s3Get"],
        "codebuild": sample.get("buildMinutes", 0.0) * PRICES["codebuildMinuteGeneral1Small"],
    }
    lines["total"] = sum(lines.values())
    return {k: round(v, 9) for k, v in lines.items()}


def _execution_arn(stack: Any, machine: str, name: str) -> str:
    return str(stack.template.ref(machine)).replace(":stateMachine:", ":execution:", 1) + ":" + name


def measure_onboardings(stack: Any, counter: CallCounter, run_id: str, n: int, timeout: float) -> dict[str, Any]:
    from onboarding.identity import derive_tenant_id

    result: dict[str, Any] = {}
    octet = iter(range(HYBRID_FIRST_OCTET, 256))
    for model in MODELS:
        rows = []
        for index in range(n + 1):  # the first is a warm-up
            envelope = model_signup(run_id, model, index, next(octet) if model == "hybrid" else 0)
            tenant_id = derive_tenant_id(envelope["detail"]["signupId"])
            if model == "remote":
                stack.bootstrap_tenant_account(REMOTE_ACCOUNT, tenant_id)
            first, builds_before = len(stack.runtime.invocations), set(stack.codebuild.builds)
            counter.take()
            stack.put_events([envelope])
            stack.wait_idle(timeout=timeout)
            counted = counter.take()
            invocations = stack.runtime.invocations[first:]
            row = {
                **counted,
                "events": counted["events"] + 1,  # the signup request itself
                "invocations": len(invocations),
                "handlerMs": round(sum(i.duration_ms for i in invocations), 1),
                "byFunction": dict(Counter(i.function for i in invocations)),
                "transitions": transitions(history(stack, _execution_arn(stack, "OnboardingStateMachine", tenant_id))),
                "status": (stack.tenant(tenant_id) or {}).get("status"),
            }
            if model == "remote":
                row["buildMinutes"] = round(_build_minutes(stack, set(stack.codebuild.builds) - builds_before), 3)
            if index:
                rows.append(row)
        result[model] = _summarise(rows)
    return result


def _build_minutes(stack: Any, build_ids: set[str]) -> float:
    """CodeBuild bills started minutes: each build rounds up to a whole minute."""
    return float(len(build_ids))


def measure_release(stack: Any, counter: CallCounter, timeout: float) -> dict[str, Any]:
    """One fleet release of every ACTIVE tenant to the next chart version; costs divided per tenant."""
    from onboarding_local.charts import publish_charts
    from onboarding_local.step_events import CHARTS, release, release_charts

    charts = release_charts(stack.workdir / "cost-charts")
    publish_charts(charts / CHARTS[0], stack.release_registry.host, stack.workdir)
    tenants = [t for t in stack.tenants() if t["status"] == "ACTIVE"]
    first, builds_before = len(stack.runtime.invocations), set(stack.codebuild.builds)
    counter.take()
    release_id = f"cost-{uuid.uuid4().hex[:6]}"
    stack.put_events([release(release_id, CHARTS[0])])
    stack.wait_idle(timeout=timeout)
    counted = counter.take()
    invocations = stack.runtime.invocations[first:]
    from onboarding.fleet import release_execution_name

    arn = _execution_arn(stack, "ReleaseStateMachine", release_execution_name(release_id))
    total_transitions = transitions(history(stack, arn))
    count = max(1, len(tenants))
    whole = {
        **counted,
        "events": counted["events"] + 1,
        "invocations": len(invocations),
        "handlerMs": round(sum(i.duration_ms for i in invocations), 1),
        "byFunction": dict(Counter(i.function for i in invocations)),
        "transitions": total_transitions,
        "buildMinutes": float(len(set(stack.codebuild.builds) - builds_before)),
    }
    per_tenant = {
        "calls": {k: round(v / count, 2) for k, v in whole["calls"].items()},
        "dynamodbUnits": {k: round(v / count, 2) for k, v in whole["dynamodbUnits"].items()},
        **{
            k: round(whole[k] / count, 2) for k in ("events", "invocations", "handlerMs", "transitions", "buildMinutes")
        },
    }
    return {"tenants": count, "release": whole, "perTenant": per_tenant, "usdPerTenant": price(per_tenant)}


def _summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    median = {k: statistics.median(r[k] for r in rows) for k in ("invocations", "handlerMs", "transitions", "events")}
    last = rows[-1]
    sample = {**last, **median}
    usd = price(sample)
    return {"n": len(rows), "statuses": sorted({r["status"] for r in rows}), **sample,
            "usd": usd, "usdPer1000": round(usd["total"] * 1000, 4)}  # fmt: skip


def measure_costs(n: int = 3, timeout: float = 300.0) -> dict[str, Any]:
    from onboarding_local.stack import LocalStack

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    BENCH_DIR.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="costs-", dir=BENCH_DIR) as workdir,
        (Path(workdir) / "stdout.log").open("w", encoding="utf-8") as out,
        contextlib.redirect_stdout(out),
        LocalStack(Path(workdir)) as stack,
        CallCounter(stack.runtime) as counter,
    ):
        run_id = uuid.uuid4().hex[:6]
        result = {"onboarding": measure_onboardings(stack, counter, run_id, n, timeout), "prices": PRICES}
        result["fleetRelease"] = measure_release(stack, counter, timeout)
    return result


def main() -> None:
    result = measure_costs(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
