"""The embedded local stack: moto (server mode) as AWS, the real ASL on moto's engine, the real
handlers in-process, EventBridge rules routed to their targets, and a real git daemon.

This module supervises the processes (the moto server, the git daemon, the two OCI registries) and
composes the rest, each in the module named for its job:

- motopatches.py: moto's gaps (Lambda invoke, rule targets, event recording, SendTaskFailure's cause);
- routing.py: EventBridge delivery with Lambda's asynchronous retries and dead-letter queues;
- provision.py: what template.yaml declares, created in moto; the customer's bootstrap role;
- runtime.py: the real handlers, run in-process; faults.py: fault injection;
- observe.py: tenants, executions and dead letters as plain data;
- urls.py: Lambda function URLs on 127.0.0.1; flux.py: Flux, emulated, reporting to the receiver's URL.

Everything the stack changes for the whole process (environment variables, boto3's default session,
moto's classes, logger levels and streams, the fault hook) is put back when it stops (processwide.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from onboarding_local import (
    atomic,
    attribute_values,
    deferred,
    motopatches,
    observe,
    provision,
    queries,
    transactions,
    transport,
    warm,
)
from onboarding_local.charts import newest, publish_charts
from onboarding_local.codebuild import CodeBuildEmulator
from onboarding_local.faults import ERROR, Fault, FaultInjector, Rule, arm
from onboarding_local.flux import FluxEmulator
from onboarding_local.gitserver import GitServer
from onboarding_local.observe import describe_execution, plain
from onboarding_local.processwide import ProcessChanges
from onboarding_local.provision import RELEASE_IMAGES, RELEASE_VERSION, REPO_ROOT
from onboarding_local.registry import Registry
from onboarding_local.routing import EventRouter, send_dead_letter
from onboarding_local.runtime import LambdaRuntime
from onboarding_local.template import ACCOUNT, REGION, Template
from onboarding_local.urls import FunctionUrls

__all__ = [
    "RELEASE_IMAGES",
    "RELEASE_VERSION",
    "REPO_ROOT",
    "EventRouter",
    "Fault",
    "LocalStack",
    "describe_execution",
    "plain",
]

_current: LocalStack | None = None
# Template parameters the local stack runs with unless told otherwise. The gather window: every handler runs in
# this process, so a burst's GitOps writers enqueue within milliseconds of each other and 200 ms gathers them all,
# where AWS's 1,000 ms default waits for a burst's Lambdas to start (docs/gitops-batching.md). Without it every
# sequential onboarding and operation would wait a full second for writers that never come.
LOCAL_DEFAULTS = {"GitOpsGatherMilliseconds": "200"}
RECEIVER_FUNCTION, RECEIVER_SECRET = "FluxReceiverFunction", "FluxReceiverTokenSecret"


@dataclass
class LocalStack:
    workdir: Path
    template_path: Path = REPO_ROOT / "template.yaml"
    parameters: dict[str, str] = field(default_factory=dict)
    charts_dir: Path = REPO_ROOT / "charts"  # every chart under it is published to the release registry
    gitops_from: Path | None = None  # a git repository whose branch main seeds the GitOps remote (gitserver.py)
    workers: int = 0  # handler worker processes (workers.py); 0: the handlers run in this process

    def __post_init__(self) -> None:
        self.parameters = {**LOCAL_DEFAULTS, **self.parameters}
        self.workdir = self.workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.git = GitServer(self.workdir, seed_from=self.gitops_from)
        self.port = 0
        self.emitted: list[dict[str, Any]] = []  # every event accepted on the bus
        self.published: list[dict[str, Any]] = []  # the ones the pipeline put there (not the inputs, not AWS's)
        self._inputs: Counter[str] = Counter()  # events put from outside, not yet seen accepted
        self._events_lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._faults = FaultInjector()
        self._server: Any = None
        self._in_thread: transport.InThreadTransport | None = None  # this process's calls to moto, in the thread
        self._changes = ProcessChanges()
        self.urls: FunctionUrls | None = None
        self.function_urls: dict[str, str] = {}  # logical name -> local URL, for functions with a FunctionUrlConfig
        self.receiver_url: str | None = None  # FluxReceiverFunction's URL
        self.flux: FluxEmulator | None = None  # started when the template has the receiver
        self.flux_token: str | None = None  # the receiver's master token (FluxReceiverTokenSecret's value)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        global _current
        if _current is not None:
            raise RuntimeError("a local stack is already running in this process")
        _current = self
        try:
            self._start_moto()
            self._start_servers()
            self._compose()
            motopatches.install(self, self._changes)
            self.charts = publish_charts(self.charts_dir, self.release_registry.host, self.workdir)
            self.chart_version = newest(self.charts).version
            self.release = provision.provision(
                self.template, self.client, self.bus, self.release_registry, self.workdir, self.chart_version
            )
            self.runtime.load()
            self._start_flux()
            warm.freeze_heap(self._changes)  # the started stack's heap is left out of GC scans
            self._faults.install(boto3.DEFAULT_SESSION.events, self._changes)  # type: ignore[union-attr]
        except BaseException:
            self.stop()
            raise
        return self

    def _start_moto(self) -> None:
        """moto in server mode on a free port, with its Step Functions engine executing, and this process
        (environment, boto3's default session) pointed at it."""
        warm.share_data_loader(self._changes)  # before moto's modules load: they read service models at import
        deferred.defer_moto_packages()  # before moto's engine and SSM load: they would import EC2's models
        self._server = warm.moto_server("127.0.0.1")
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
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
        self._changes.setenv(self.base_env)
        for noisy in ("werkzeug", "moto"):  # request lines and the engine's own error traces
            self._changes.set_level(noisy, logging.CRITICAL)
        # a new default session picks up the endpoint and credentials
        self._changes.patch(boto3, "DEFAULT_SESSION", warm.boto3_session())
        # this process's calls are answered by moto's app in the calling thread (other processes use HTTP)
        events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        self._in_thread = in_thread = transport.InThreadTransport(self._server.app, self.port)
        in_thread.attach(events)
        self._changes.on_restore(lambda: in_thread.detach(events))
        warm.install(self._changes)  # moto's ASL parse trees kept per definition; its module list read once
        attribute_values.install(self._changes)  # DynamoDB's item values serialized without moto's model walk
        transactions.install(self._changes)  # a transaction backs up the items it writes, not whole tables
        queries.install(self._changes)  # a Query of a table's own key reads that key's items, not the whole table
        atomic.install(self._changes)  # one DynamoDB request at a time: a conditional write applies whole
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()  # backends are per process
        requests.post(
            f"{self.endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
            timeout=10,
        ).raise_for_status()

    def _start_servers(self) -> None:
        """The GitOps remote (git daemon) and the release and tenant registries (docker-registry)."""
        self.git.start()
        self.release_registry = Registry(self.workdir / "registries", "release").start()
        self.tenant_registry = Registry(self.workdir / "registries", "tenant-ecr").start()
        # every ECR host (a remote tenant's registry) is the local tenant registry, for in-process handlers too
        endpoints = {"REGISTRY_ENDPOINTS": json.dumps({"*": f"http://{self.tenant_registry.host}"})}
        self.base_env.update(endpoints)
        self._changes.setenv(endpoints)

    def _compose(self) -> None:
        self.codebuild = CodeBuildEmulator(self.tenant_registry.host, self._put_raw_event)
        self.template = Template(self.template_path, parameters={"GitOpsRepoUrl": self.git.url, **self.parameters})
        self.status_source = self.template.params["StatusEventSource"]
        self.bus = self.template.params["EventBusName"]
        self.runtime = LambdaRuntime(self.template, self.base_env, self.workdir / "lambda.log", workers=self.workers)
        self.runtime.in_process_only = self._faults.configured  # fault rules and counters live in this process
        self._changes.on_restore(self.runtime.close)
        self.router = EventRouter(self)

    def _start_flux(self) -> None:
        """The function URLs' local front, then Flux, emulated, posting its events to the receiver's URL."""
        self.urls = FunctionUrls(self.template, self.runtime).start()
        self.function_urls = self.urls.urls
        self.receiver_url = self.function_urls.get(RECEIVER_FUNCTION)
        if self.receiver_url is None or RECEIVER_SECRET not in self.template.resources:
            return
        secret = self.client("secretsmanager").get_secret_value(SecretId=self.template.ref(RECEIVER_SECRET))
        self.flux_token = str(secret["SecretString"])
        self.flux = FluxEmulator(
            self.git.repo, self.release_registry.host, self.receiver_url, self.flux_token, self.workdir / "flux",
            ecr_registry=self.tenant_registry.host,
        ).start()  # fmt: skip

    def stop(self) -> None:
        """Stop the processes, then put back everything the stack changed in this process."""
        global _current
        if self._in_thread is not None:  # from now on this process's calls go over HTTP, as a kept client's would
            self._in_thread.active = False
        try:
            for part in (self.flux, self.urls):  # before the handlers' environment is put back
                if part is not None:
                    part.stop()
            if hasattr(self, "router"):
                self.router.shutdown()
            self.git.stop()
            for registry in (getattr(self, "release_registry", None), getattr(self, "tenant_registry", None)):
                if registry is not None:
                    registry.stop()
            if self._server is not None:
                self._server.stop()
                self._server = None
        finally:
            self._changes.restore()
            if _current is self:
                _current = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """The stack's client of ``service`` (one per service: botocore clients are thread-safe, and making one
        costs about 25 ms of CPU, which tests reading records in loops paid again and again)."""
        with self._clients_lock:
            made = self._clients.get(service)
            if made is None:
                made = self._clients[service] = boto3.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint, region_name=REGION
                )
            return made

    # ------------------------------------------------------------------ driving
    def inject_fault(
        self, service: str, operation: str, code: str, times: int = 1, after: int = 0, function: str | None = None
    ) -> None:
        """Make ``times`` calls of ``service:operation`` by handlers fail with ``code``, after ``after`` succeed;
        only the calls of ``function`` (a logical name, such as ``ActivateTenantFunction``) when given."""
        if function is None:
            self._faults.inject(service, operation, code, times, after)
            return
        arm(self).add(Rule(f"{service}.{operation}", f"{ERROR}{code}", times=times, after=after, function=function))

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
        self._expect_inputs(entries)
        client = self.client("events")
        for i in range(0, len(entries), 10):
            response = client.put_events(Entries=entries[i : i + 10])
            if response["FailedEntryCount"]:
                raise RuntimeError(f"PutEvents rejected entries: {response['Entries']}")

    def wait_idle(self, timeout: float = 300.0) -> None:
        """Return once no delivery is pending, no execution is running and Flux has reconciled the GitOps head
        (twice in a row)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            running = warm.running_executions(ACCOUNT, REGION) if self.router.pending == 0 else 0
            reconciling = self.flux is not None and not self.flux.idle()
            busy = self.router.pending > 0 or running > 0 or self.codebuild.running > 0 or reconciling
            quiet = 0 if busy else quiet + 1
            if quiet >= 2:
                return
            time.sleep(0.05)
        raise TimeoutError(f"the local stack was still busy after {timeout:.0f}s")

    def _put_raw_event(self, entry: dict[str, Any]) -> None:
        self._expect_inputs([entry])  # an AWS service's event (CodeBuild's), not the pipeline's
        self.client("events").put_events(Entries=[{**entry, "EventBusName": "default"}])

    def bootstrap_tenant_account(
        self, account: str, tenant_id: str, trusted_account: str = ACCOUNT, external_id: str | None = None
    ) -> str:
        """Deploy tenant-account/bootstrap.yaml's role into ``account`` (as the customer would)."""
        return provision.bootstrap_tenant_account(account, tenant_id, trusted_account, external_id)

    def send_dead_letter(self, arn: str | None, event: dict[str, Any], reason: str) -> None:
        if arn:
            send_dead_letter(self.client("sqs"), arn, event, reason)

    @staticmethod
    def _input_key(entry: dict[str, Any]) -> str:
        return json.dumps([entry["Source"], entry["DetailType"], json.loads(entry["Detail"])], sort_keys=True)

    def _expect_inputs(self, entries: Iterable[dict[str, Any]]) -> None:
        with self._events_lock:
            self._inputs.update(self._input_key(e) for e in entries)

    def record_event(self, entry: dict[str, Any]) -> None:
        event = {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
        key = self._input_key(entry)
        with self._events_lock:
            self.emitted.append(event)
            if self._inputs[key] > 0:
                self._inputs[key] -= 1
            else:
                self.published.append(event)

    # ------------------------------------------------------------------ observing
    def status_events(self) -> list[dict[str, Any]]:
        with self._events_lock:
            return [e for e in self.emitted if e["source"] == self.status_source]

    def published_events(self) -> list[dict[str, Any]]:
        """Every event the pipeline published, whatever its source (SBT's answers too), in order."""
        with self._events_lock:
            return list(self.published)

    def tenants(self) -> list[dict[str, Any]]:
        return observe.list_tenants(self.client("dynamodb"))

    def tenant(self, tenant_id: str) -> dict[str, Any] | None:
        return observe.get_tenant(self.client("dynamodb"), tenant_id)

    def tenant_ids(self) -> set[str]:
        return observe.tenant_ids(self.client("dynamodb"))

    def dead_letters(self, queue: str = "SignupDeadLetterQueue") -> list[dict[str, Any]]:
        return observe.list_dead_letters(self.client("sqs"), queue)

    def executions(self) -> list[dict[str, Any]]:
        return observe.list_executions(self.client("stepfunctions"))
