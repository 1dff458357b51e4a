"""The embedded local stack: moto (server mode) as AWS, the real ASL on moto's engine, the real
handlers in-process, EventBridge rules routed to their targets, and a real git daemon.

moto gaps filled here, honestly and only here:
- moto's Lambda cannot run code without Docker: ``LambdaSimpleBackend.invoke`` is routed to the
  real handler, and exceptions come back as Lambda reports them (``x-amz-function-error``).
- moto's ``PutEvents`` matches rules but does not deliver to Lambda or Step Functions targets:
  matching rules are delivered here, with Lambda's asynchronous retry and dead-letter behaviour.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import threading
import time
import uuid
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import requests
from boto3.dynamodb.types import TypeDeserializer

from onboarding_local.codebuild import CodeBuildEmulator
from onboarding_local.gitserver import GitServer, free_port
from onboarding_local.registry import Registry, seed_release
from onboarding_local.runtime import LambdaRuntime
from onboarding_local.template import ACCOUNT, REGION, Template

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASE_VERSION = "1.4.2"
RELEASE_IMAGES = ("api", "worker")
ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice
ASYNC_RETRY_DELAYS = (0.2, 0.4)  # Lambda waits about 1 and 2 minutes; shortened locally

_current: LocalStack | None = None
_patch_lock = threading.Lock()
_patched = False


def _install_moto_patches() -> None:
    """Route moto's Lambda invoke and EventBridge rule targets to the running local stack."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.events.models import EventsBackend, Rule

        def invoke(
            self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
        ) -> bytes:
            stack = _require_stack()
            name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
            payload = json.loads(body) if body else {}
            if headers.get("X-Amz-Invocation-Type") == "Event":
                stack.router.invoke_async(name, payload)
                return b""
            result, error_type = stack.runtime.invoke(name, payload)
            if error_type:
                response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(result).encode()

        original_send = Rule.send_to_targets

        def send_to_targets(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
            if not self.event_pattern.matches_event(event):
                return
            stack = _require_stack()
            for target in self.targets:
                service = target["Arn"].split(":")[2]
                if service in ("lambda", "states"):
                    stack.router.deliver(self.name, target, copy.deepcopy(event))
                else:
                    single = copy.copy(self)
                    single.targets = [target]
                    original_send(single, event, transform_input)  # type: ignore[arg-type]

        original_put = EventsBackend.put_events

        def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            entries = original_put(self, events)
            stack = _current
            if stack is not None:
                for event, entry in zip(events, entries, strict=False):
                    if "EventId" in entry:
                        stack.record_event(event)
            return entries

        from onboarding_local import codebuild, ssm_activations, trust

        ssm_activations.install()
        trust.install()
        codebuild.install(lambda: _require_stack().codebuild)
        from moto.core.responses import EmptyResult
        from moto.stepfunctions.responses import StepFunctionResponse

        def send_task_failure(self: Any) -> Any:
            # moto's response handler drops the cause; the engine itself supports it
            self.stepfunction_backend.send_task_failure(
                self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
            )
            return EmptyResult()

        StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]
        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
        Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
        EventsBackend.put_events = put_events  # type: ignore[method-assign]
        _patched = True


def _require_stack() -> LocalStack:
    if _current is None:
        raise RuntimeError("no local stack is running")
    return _current


class EventRouter:
    """Delivers matched EventBridge events to Lambda (asynchronously) and Step Functions targets."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="eventbridge")
        self._pending = 0
        self._cond = threading.Condition()

    def _track(self, fn: Any, *args: Any) -> None:
        with self._cond:
            self._pending += 1

        def run() -> None:
            try:
                fn(*args)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

        self._pool.submit(run)

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def deliver(self, rule: str, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = target["Arn"]
        if isinstance(event.get("time"), (int, float)):
            event["time"] = datetime.utcfromtimestamp(event["time"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        if arn.split(":")[2] == "states":
            self._track(self._start_execution, arn, event)
            return
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        function = arn.rsplit(":", 1)[-1]
        if function not in self.stack.runtime.functions:
            # EventBridge could not deliver: after its retry policy, the event goes to the rule's DLQ.
            self.stack.send_dead_letter(dead_letter, event, f"rule {rule}: function {function} not found")
            return
        self.invoke_async(function, event)

    def invoke_async(self, function: str, payload: dict[str, Any]) -> None:
        self._track(self._invoke_with_retries, function, payload)

    def _invoke_with_retries(self, function: str, payload: dict[str, Any]) -> None:
        result: Any = None
        for attempt in range(ASYNC_RETRIES + 1):
            result, error_type = self.stack.runtime.invoke(function, payload)
            if error_type is None:
                return
            if attempt < ASYNC_RETRIES:
                time.sleep(ASYNC_RETRY_DELAYS[attempt])
        spec = self.stack.runtime.functions[function]
        self.stack.send_dead_letter(spec.dead_letter_arn, payload, json.dumps(result))

    def _start_execution(self, arn: str, event: dict[str, Any]) -> None:
        self.stack.client("stepfunctions").start_execution(
            stateMachineArn=arn, name=str(uuid.uuid4()), input=json.dumps(event)
        )

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


@dataclass
class Fault:
    code: str
    remaining: int
    skip: int = 0
    message: str = "injected by the local stack"


@dataclass
class LocalStack:
    workdir: Path
    template_path: Path = REPO_ROOT / "template.yaml"
    parameters: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir = self.workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.git = GitServer(self.workdir)
        self.port = 0
        self.emitted: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._server: Any = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        global _current
        if _current is not None:
            raise RuntimeError("a local stack is already running in this process")
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.base_env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "MOTO_PORT": str(self.port),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        os.environ.update(self.base_env)
        for noisy in ("werkzeug", "moto"):  # request lines and the engine's own error traces
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
        boto3.setup_default_session()  # pick up the endpoint and credentials
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()  # backends are per process
        requests.post(
            f"{self.endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
            timeout=10,
        ).raise_for_status()
        self.git.start()
        self.release_registry = Registry(self.workdir / "registries", "release").start()
        self.tenant_registry = Registry(self.workdir / "registries", "tenant-ecr").start()
        self.codebuild = CodeBuildEmulator(self.tenant_registry.host, self._put_raw_event)
        self.template = Template(self.template_path, parameters={"GitOpsRepoUrl": self.git.url, **self.parameters})
        self.status_source = self.template.params["StatusEventSource"]
        self.bus = self.template.params["EventBusName"]
        self.runtime = LambdaRuntime(self.template, self.base_env, self.workdir / "lambda.log")
        self.router = EventRouter(self)
        _install_moto_patches()
        _current = self
        try:
            self._provision()
            self.runtime.load()
            self._install_fault_hook()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        global _current
        if hasattr(self, "router"):
            self.router.shutdown()
        self.git.stop()
        for registry in (getattr(self, "release_registry", None), getattr(self, "tenant_registry", None)):
            if registry is not None:
                registry.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
        _current = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)  # type: ignore[call-overload]

    # ------------------------------------------------------------------ provisioning from template.yaml
    def _provision(self) -> None:
        t = self.template
        ddb = self.client("dynamodb")
        for logical, res in t.of_type("AWS::DynamoDB::Table").items():
            props = t.resolve(res["Properties"])
            ddb.create_table(
                TableName=logical,
                KeySchema=props["KeySchema"],
                AttributeDefinitions=props["AttributeDefinitions"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            )
        s3 = self.client("s3")
        for logical in t.of_type("AWS::S3::Bucket"):
            s3.create_bucket(Bucket=t.ref(logical))
        sqs = self.client("sqs")
        for logical in t.of_type("AWS::SQS::Queue"):
            sqs.create_queue(QueueName=logical)
        events = self.client("events")
        if self.bus != "default":
            events.create_event_bus(Name=self.bus)
        iam = self.client("iam")
        role = iam.create_role(
            RoleName="onboarding-local-lambda",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            ),
        )["Role"]["Arn"]
        lam = self.client("lambda")
        stub = io.BytesIO()
        with zipfile.ZipFile(stub, "w") as z:
            z.writestr("app.py", "# the local stack runs the real handler from functions/ in-process\n")
        for logical, res in t.of_type("AWS::Serverless::Function").items():
            lam.create_function(
                FunctionName=logical,
                Runtime=t.function_property(logical, "Runtime"),
                Role=role,
                Handler=t.function_property(logical, "Handler"),
                Code={"ZipFile": stub.getvalue()},
                Timeout=int(t.function_property(logical, "Timeout") or 3),
            )
            for event_name, spec in (res["Properties"].get("Events") or {}).items():
                if spec["Type"] != "EventBridgeRule":
                    continue
                props = t.resolve(spec["Properties"])
                rule = f"{logical}{event_name}"
                events.put_rule(
                    Name=rule,
                    EventBusName=props.get("EventBusName", "default"),
                    EventPattern=json.dumps(props["Pattern"]),
                    State="ENABLED",
                )
                target: dict[str, Any] = {"Id": logical, "Arn": t.get_att(logical, "Arn")}
                if "RetryPolicy" in props:
                    target["RetryPolicy"] = props["RetryPolicy"]
                if "DeadLetterConfig" in props:
                    target["DeadLetterConfig"] = {"Arn": props["DeadLetterConfig"]["Arn"]}
                events.put_targets(Rule=rule, EventBusName=props.get("EventBusName", "default"), Targets=[target])
        for logical, res in t.of_type("AWS::CodeBuild::Project").items():
            props = t.resolve(res["Properties"])
            self.client("codebuild").create_project(
                name=logical,
                source={"type": "NO_SOURCE", "buildspec": props["Source"]["BuildSpec"], "location": "none"},
                artifacts={"type": "NO_ARTIFACTS"},
                environment={
                    "type": "LINUX_CONTAINER",
                    "image": props["Environment"]["Image"],
                    "computeType": props["Environment"]["ComputeType"],
                },
                serviceRole=props["ServiceRole"],
                timeoutInMinutes=int(props.get("TimeoutInMinutes", 60)),
            )
        self.release = seed_release(self.release_registry, self.workdir, RELEASE_VERSION, RELEASE_IMAGES)
        self.client("ssm").put_parameter(
            Name=t.params["ReleaseParameterName"],
            Type="String",
            Value=json.dumps(
                {
                    "version": RELEASE_VERSION,
                    "registry": self.release_registry.host,
                    "region": REGION,
                    "images": [{"name": i.name, "repository": i.repository, "digest": i.digest} for i in self.release],
                }
            ),
        )
        sfn = self.client("stepfunctions")
        for logical, res in t.of_type("AWS::Serverless::StateMachine").items():
            props = res["Properties"]
            definition = (t.root / props["DefinitionUri"]).read_text()
            for key, value in t.resolve(props.get("DefinitionSubstitutions", {})).items():
                definition = definition.replace("${" + key + "}", str(value))
            sfn.create_state_machine(
                name=logical,
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/onboarding-local-states",
                type=props.get("Type", "STANDARD"),
            )

    # ------------------------------------------------------------------ fault injection (tests, demos)
    def inject_fault(self, service: str, operation: str, code: str, times: int = 1, after: int = 0) -> None:
        """Make ``times`` calls of ``service:operation`` by handlers fail with ``code``, after ``after`` succeed."""
        self._faults[f"{service}.{operation}"] = Fault(code=code, remaining=times, skip=after)

    def _install_fault_hook(self) -> None:
        class _Http:
            status_code = 400
            headers: dict[str, str] = {}
            content = b""
            text = ""

        def hook(model: Any, **_: Any) -> Any:
            fault = self._faults.get(f"{model.service_model.endpoint_prefix}.{model.name}")
            if fault is None or fault.remaining <= 0:
                return None
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.remaining -= 1
            return _Http(), {
                "Error": {"Code": fault.code, "Message": fault.message},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }

        boto3.DEFAULT_SESSION.events.register("before-call", hook)  # type: ignore[union-attr]

    # ------------------------------------------------------------------ driving
    def put_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Put events given as EventBridge envelopes (the format of events/) on the bus, at once."""
        entries = [
            {
                "Source": e["source"],
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
                "EventBusName": self.bus,
            }
            for e in events
        ]
        client = self.client("events")
        for i in range(0, len(entries), 10):
            response = client.put_events(Entries=entries[i : i + 10])
            if response["FailedEntryCount"]:
                raise RuntimeError(f"PutEvents rejected entries: {response['Entries']}")

    def wait_idle(self, timeout: float = 300.0) -> None:
        """Return once no delivery is pending and no execution is running (twice in a row)."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            running = 0
            if self.router.pending == 0:
                for machine in sfn.list_state_machines()["stateMachines"]:
                    pages = sfn.get_paginator("list_executions").paginate(
                        stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
                    )
                    running += sum(len(page["executions"]) for page in pages)
            busy = self.router.pending > 0 or running > 0 or self.codebuild.running > 0
            quiet = 0 if busy else quiet + 1
            if quiet >= 2:
                return
            time.sleep(0.05)
        raise TimeoutError(f"the local stack was still busy after {timeout:.0f}s")

    def _put_raw_event(self, entry: dict[str, Any]) -> None:
        self.client("events").put_events(Entries=[{**entry, "EventBusName": "default"}])

    def bootstrap_tenant_account(
        self, account: str, tenant_id: str, trusted_account: str = ACCOUNT, external_id: str | None = None
    ) -> str:
        """Deploy tenant-account/bootstrap.yaml's role into ``account`` (as the customer would)."""
        from moto.iam.models import iam_backends

        bootstrap = Template(
            REPO_ROOT / "tenant-account" / "bootstrap.yaml",
            parameters={
                "TenantId": tenant_id,
                "ProviderPipelineRoleArns": f"arn:aws:iam::{trusted_account}:role/onboarding-pipeline",
            },
        )
        role = bootstrap.resolve(bootstrap.resources["OnboardingRole"]["Properties"])
        trust = role["AssumeRolePolicyDocument"]
        if external_id is not None:
            trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = external_id
        iam = iam_backends[account]["global"]
        created = iam.create_role(
            role_name=role["RoleName"],
            assume_role_policy_document=json.dumps(trust),
            path="/",
            permissions_boundary=None,
            description=role.get("Description", ""),
            tags=[],
            max_session_duration=str(role.get("MaxSessionDuration", 3600)),
        )
        for policy in role.get("Policies", []):
            iam.put_role_policy(role["RoleName"], policy["PolicyName"], json.dumps(policy["PolicyDocument"]))
        return str(created.arn)

    def send_dead_letter(self, arn: str | None, event: dict[str, Any], reason: str) -> None:
        if not arn:
            return
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(event),
            MessageAttributes={"ErrorMessage": {"DataType": "String", "StringValue": reason[:1000]}},
        )

    def record_event(self, entry: dict[str, Any]) -> None:
        with self._events_lock:
            self.emitted.append(
                {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
            )

    # ------------------------------------------------------------------ observing
    def status_events(self) -> list[dict[str, Any]]:
        with self._events_lock:
            return [e for e in self.emitted if e["source"] == self.status_source]

    def tenants(self) -> list[dict[str, Any]]:
        de = TypeDeserializer()
        items = self.client("dynamodb").scan(TableName="TenantsTable", ConsistentRead=True)["Items"]
        records = [{k: plain(de.deserialize(v)) for k, v in item.items()} for item in items]
        return sorted(records, key=lambda r: (r.get("createdAt", ""), r["tenantId"]))

    def tenant(self, tenant_id: str) -> dict[str, Any] | None:
        return next((t for t in self.tenants() if t["tenantId"] == tenant_id), None)

    def dead_letters(self, queue: str = "SignupDeadLetterQueue") -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        result = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
            for page in pages:
                result += [describe_execution(sfn, summary["executionArn"]) for summary in page["executions"]]
        return sorted(result, key=lambda e: e["startDate"])


def plain(value: Any) -> Any:
    """A deserialized DynamoDB value as plain JSON types (Decimal -> int or float)."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


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
