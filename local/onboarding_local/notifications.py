"""notification-controller, emulated, for the Flux emulator (flux.py): events posted as its generic-hmac provider does.

Each event is JSON (``involvedObject``, ``severity``, ``timestamp``, ``message``, ``reason``, ``metadata``,
``reportingController``, ``reportingInstance``) with ``X-Signature: sha256=<hex HMAC-SHA256 of the exact body>``
keyed by the cluster's token. ``metadata`` is the emitter's (``revision``; the ``event.toolkit.fluxcd.io/*``
annotations of the object, prefix stripped) over the selecting Alert's ``eventMetadata``.

On the provider's cluster an event is sent only when an Alert of the cluster (with its Provider present, not
suspended, of a matching ``eventSeverity``) lists the object in ``eventSources`` (kind, name or ``*``, exact
namespace), as notification-controller matches them. A remote customer's cluster is wired by the customer as
docs/remote-customer-runbook.md says, its Alert's ``eventMetadata`` naming the tenant (``tenantId``); every event
is sent.

A failed post is retried as notification-controller's client (hashicorp/go-retryablehttp, set up in its
internal/notifier/client.go: ``RetryMax`` 4, ``RetryWaitMin`` 2 s, ``RetryWaitMax`` 30 s, the Provider's timeout,
15 s by default, over all attempts) retries it: again after no answer (status 0), a 429, or a 5xx other than
501; never after any other answer (a 401 or 400 is final). The wait before retry ``n`` (from 0) is the answer's
``Retry-After`` (seconds) on a 429 or 503, else ``min(2 s * 2**n, 30 s)``; a retry whose start would fall after
the timeout is not made (2, 4, 8 s: 4 posts; ``Retry-After: 1``: 5). Emulated, not real: the waits are scaled by
``WAIT_SCALE`` (2 s is 0.1 s here) and the timeout is counted on those nominal waits, without the time the posts
themselves take (the local receiver is slower than the scale); each post may take ``POST_TIMEOUT`` s; the posts
of one event are sent in turn from the emulator's thread (notification-controller sends each from a goroutine).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from onboarding_local.kube import object_id

BRANCH = "main"
FLUX_NAMESPACE = "flux-system"
PREFIX = "event.toolkit.fluxcd.io/"
KUSTOMIZATION_REASONS = frozenset({"ReconciliationFailed", "HealthCheckFailed"})
_API = {"HelmRelease": "helm.toolkit.fluxcd.io/v2", "Kustomization": "kustomize.toolkit.fluxcd.io/v1"}
_CONTROLLER = {"HelmRelease": "helm-controller", "Kustomization": "kustomize-controller"}
_POD = {"HelmRelease": "helm-controller-7c9d5b8f6-q2x4z", "Kustomization": "kustomize-controller-5f8d7c6b4-m9k2p"}

Key = tuple[str, str]  # a HelmRelease's (namespace, name)

# notification-controller's retrying client (see the module docstring), and how this emulation scales it
RETRY_MAX, RETRY_WAIT_MIN, RETRY_WAIT_MAX, PROVIDER_TIMEOUT = 4, 2.0, 30.0, 15.0
WAIT_SCALE = 0.05  # emulated seconds per nominal second of waiting
POST_TIMEOUT = 30.0


def retried(status: int) -> bool:
    """go-retryablehttp's DefaultRetryPolicy: no answer, 429, or a 5xx other than 501."""
    return status == 0 or status == 429 or (status >= 500 and status != 501)


def retry_wait(attempt: int, status: int, retry_after: str | None) -> float:
    """go-retryablehttp's DefaultBackoff, in nominal seconds, before retry ``attempt`` (from 0)."""
    if status in (429, 503) and retry_after is not None and retry_after.strip().isdigit():
        return float(retry_after.strip())
    return min(RETRY_WAIT_MIN * 2**attempt, RETRY_WAIT_MAX)


def tenant_token(master: str, tenant_id: str) -> str:
    """The token a remote tenant's own cluster signs with, derived from the master token."""
    return hmac.new(master.encode(), f"flux-receiver/{tenant_id}".encode(), hashlib.sha256).hexdigest()


def named_objects(cluster: Cluster, message: str, files: list[Path], named: list[str] | None = None) -> str:
    """What to add to a failure's message so it names its HelmReleases, as Flux names objects
    (``HelmRelease/<namespace>/<name>``): a build error names only files, so name the HelmReleases in them."""
    found, stems = list(named or []), {f.stem for f in files}
    for inventory in cluster.inventory.values():
        found += [i for i, o in inventory.items() if o.get("kind") == "HelmRelease" and i.rsplit("/", 1)[-1] in stems]
    for file in files:
        with contextlib.suppress(yaml.YAMLError):
            docs = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
            found += [object_id(d) for d in docs if isinstance(d, dict) and d.get("kind") == "HelmRelease"]
    extra = sorted({n for n in found if n not in message})
    return f" ({', '.join(extra)})" if extra else ""


def tenant_of(obj: dict[str, Any]) -> str:
    """The tenant an object is about: its ``event.toolkit.fluxcd.io/tenantId`` annotation, else its name."""
    meta = obj.get("metadata") or {}
    return str((meta.get("annotations") or {}).get(f"{PREFIX}tenantId") or meta.get("name"))


@dataclass
class Delivery:
    cluster: str
    payload: dict[str, Any]
    status: int  # the receiver's last answer; 0 when it could not be reached
    attempts: list[int] = field(default_factory=list)  # every answer, in order (retried ones first)


@dataclass
class Cluster:
    """One cluster's Flux, as far as the emulator remembers it."""

    name: str  # the provider's cluster, or remote/<tenantId>: that customer's own cluster
    token: str  # what its notification-controller signs with
    routed: bool  # only what its Alerts select is sent (the provider's cluster; a customer's wiring is its own)
    event_metadata: dict[str, str] = field(default_factory=dict)  # an unrouted cluster's Alert's eventMetadata
    inventory: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # Kustomization -> id -> object
    applied: dict[Key, dict[str, Any]] = field(default_factory=dict)  # what each HelmRelease last installed
    attempted: dict[Key, str] = field(default_factory=dict)  # the digest of each HelmRelease's last reconcile


class Notifier:
    def __init__(self, receiver_url: str) -> None:
        self.receiver_url = receiver_url
        self.sent: list[Delivery] = []
        self.dropped: list[dict[str, Any]] = []  # lost on the way (drop_next)
        self.unrouted: list[str] = []  # no Alert selected them: notification-controller sends nothing
        self._drops: Counter[str] = Counter()
        self._versions = itertools.count(1)
        self._lanes: list[ThreadPoolExecutor] | None = None  # concurrent_deliveries()
        self._in_flight: list[Future[Delivery]] = []

    def drop_next(self, tenant_id: str, count: int = 1) -> None:
        self._drops[tenant_id] += count

    def release_event(self, cluster: Cluster, hr: dict[str, Any], reason: str, message: str, version: str) -> None:
        """helm-controller's event about a HelmRelease; ``metadata.revision`` is the chart version."""
        annotations = (hr.get("metadata") or {}).get("annotations") or {}
        metadata = {k.removeprefix(PREFIX): str(v) for k, v in annotations.items() if k.startswith(PREFIX)}
        metadata["revision"] = version
        namespace, name = hr["metadata"].get("namespace", "default"), hr["metadata"]["name"]
        self._post(cluster, "HelmRelease", namespace, name, reason, message, metadata, tenant_of(hr))

    def kustomization_event(
        self, cluster: Cluster, name: str, reason: str, message: str, head: str, tenant: str | None = None
    ) -> None:
        """kustomize-controller's event about a Kustomization; ``metadata.revision`` is ``main@sha1:<commit>``."""
        metadata = {"revision": f"{BRANCH}@sha1:{head}"}
        self._post(cluster, "Kustomization", FLUX_NAMESPACE, name, reason, message, metadata, tenant)

    def _post(
        self,
        cluster: Cluster,
        kind: str,
        namespace: str,
        name: str,
        reason: str,
        message: str,
        metadata: dict[str, str],
        tenant: str | None,
    ) -> None:
        failure = reason in KUSTOMIZATION_REASONS or not reason.endswith("Succeeded") or reason == "RollbackSucceeded"
        severity = "error" if failure else "info"
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster.name}/{kind}/{namespace}/{name}"))
        involved = {"kind": kind, "namespace": namespace, "name": name, "uid": uid, "apiVersion": _API[kind]}
        involved["resourceVersion"] = str(next(self._versions))
        selected = self._alert_metadata(cluster, involved, severity)
        if selected is None:
            self.unrouted.append(f"{kind}/{namespace}/{name} {reason}")
            return
        payload = {
            "involvedObject": involved,
            "severity": severity,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "message": message,
            "reason": reason,
            "metadata": {**selected, **metadata},  # the emitter's own keys win over the Alert's
            "reportingController": _CONTROLLER[kind],
            "reportingInstance": _POD[kind],
        }
        if tenant is not None and self._drops[tenant] > 0:
            self._drops[tenant] -= 1
            self.dropped.append(payload)
            return
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(cluster.token.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Signature": signature}
        if self._lanes is None:
            self.sent.append(self._deliver(Delivery(cluster.name, payload, 0), body, headers))
            return
        delivery = Delivery(cluster.name, payload, 0)
        self.sent.append(delivery)  # in the order the events were emitted; answered in its lane
        lane = self._lanes[zlib.crc32((tenant or uid).encode()) % len(self._lanes)]
        self._in_flight.append(lane.submit(self._deliver, delivery, body, headers))

    @contextlib.contextmanager
    def concurrent_deliveries(self, lanes: int) -> Iterator[None]:
        """Within the block, events are posted by ``lanes`` threads (none: one by one, as they are emitted), one
        lane per object's tenant (or object), so one tenant's events still arrive in order; the block ends once
        every event posted in it was answered."""
        if lanes < 2 or self._lanes is not None:
            yield
            return
        self._lanes = [ThreadPoolExecutor(max_workers=1, thread_name_prefix="flux-notify") for _ in range(lanes)]
        try:
            yield
        finally:
            pools, self._lanes = self._lanes, None
            for pool in pools:
                pool.shutdown(wait=True)
            in_flight, self._in_flight = self._in_flight, []
            for future in in_flight:
                future.result()  # a failure of the emulator itself is raised, as it was when posting inline

    def _deliver(self, delivery: Delivery, body: bytes, headers: dict[str, str]) -> Delivery:
        """Post one event, with notification-controller's retries; the receiver's answers go into ``delivery``."""
        attempts: list[int] = []
        waited = 0.0  # nominal seconds, against the Provider's timeout
        for attempt in range(RETRY_MAX + 1):
            status, retry_after = 0, None
            with contextlib.suppress(requests.RequestException):
                answer = requests.post(self.receiver_url, data=body, headers=headers, timeout=POST_TIMEOUT)
                status, retry_after = answer.status_code, answer.headers.get("Retry-After")
            attempts.append(status)
            wait = retry_wait(attempt, status, retry_after)
            if not retried(status) or attempt == RETRY_MAX or waited + wait > PROVIDER_TIMEOUT:
                break
            waited += wait
            time.sleep(wait * WAIT_SCALE)
        delivery.status, delivery.attempts = attempts[-1], attempts
        return delivery

    def _alert_metadata(self, cluster: Cluster, involved: dict[str, str], severity: str) -> dict[str, str] | None:
        """The ``eventMetadata`` of an Alert that selects the event; None when no Alert does."""
        if not cluster.routed:
            return dict(cluster.event_metadata)
        objects = [o for inventory in cluster.inventory.values() for o in inventory.values()]
        providers = {object_id(o) for o in objects if o.get("kind") == "Provider"}
        for alert in (o for o in objects if o.get("kind") == "Alert"):
            spec, namespace = alert.get("spec") or {}, alert["metadata"].get("namespace", "default")
            provider = f"Provider/{namespace}/{(spec.get('providerRef') or {}).get('name')}"
            if spec.get("suspend") or provider not in providers:
                continue
            if spec.get("eventSeverity", "info") == "error" and severity != "error":
                continue
            for source in spec.get("eventSources") or []:
                if (
                    source.get("kind") == involved["kind"]
                    and source.get("name") in ("*", involved["name"])
                    and source.get("namespace", namespace) == involved["namespace"]
                ):
                    return {str(k): str(v) for k, v in (spec.get("eventMetadata") or {}).items()}
        return None
