"""Flux, emulated like CodeBuild in codebuild.py: the real tools (kube.py), with emulated plumbing.

On each new head of the GitOps remote's ``main`` (its ref is read every 50 ms) the tree is checked out with
``git archive``. Every Flux Kustomization under ``clusters/<cluster>/`` is built, in ``dependsOn`` order, with
the real ``kubectl kustomize``, and every object validated strictly. Each HelmRelease whose chart, values,
release name or namespace changed since its last reconcile is pulled at its exact version with the real
``helm pull`` from its HelmRepository's OCI registry (run locally), rendered with the real ``helm template``
and its own values, and every rendered object validated, up to RENDER_CONCURRENCY releases at once (as
helm-controller does). Events go out through notifications.py; those of such a reconcile's releases are posted
RENDER_CONCURRENCY at a time, one tenant's in order, all answered before the next cluster's are emitted.

Each ``remote/<tenantId>/`` (the provider's record of what a remote tenant runs) is that customer's own
cluster: built and rendered the same way, its chart pulled from the tenant's own registry, every event signed
with the tenant's own token and, as the customer's Alert sets it (docs/remote-customer-runbook.md), naming the
tenant in ``metadata.tenantId``.

Emulated: the cluster (nothing is applied: "applied" is what was last rendered), health (a valid render is a
ready release), the Provider's address (events go to ``receiver_url``), and a remote cluster's source (the
provider's record in git, not the OCI artifact it reads). Like Flux, only the latest head is reconciled:
heads pushed meanwhile are skipped, and a HelmRelease that did not change sends nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess
import tarfile
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from onboarding_local.kube import ToolFailed, Tools, object_id, prune_disabled, validation_errors
from onboarding_local.notifications import (
    FLUX_NAMESPACE,
    KUSTOMIZATION_REASONS,
    Cluster,
    Delivery,
    Key,
    Notifier,
    named_objects,
    tenant_of,
    tenant_token,
)

__all__ = ["Cluster", "Delivery", "FluxEmulator", "tenant_token"]

BRANCH = "main"
RENDER_CONCURRENCY = 4  # HelmReleases pulled and rendered at once (helm-controller's --concurrent default is 4)
log = logging.getLogger(__name__)


class _Failure(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class FluxEmulator:
    def __init__(
        self,
        repo: Path,
        registry: str,
        receiver_url: str,
        token: str,
        workdir: Path,
        ecr_registry: str | None = None,
        cluster: str = "production",
    ) -> None:
        """``repo``: the bare GitOps repository; ``registry``: host of the release registry (the provider's charts);
        ``ecr_registry``: host standing for every ECR registry (remote tenants' own charts), else ``registry``;
        ``token``: the master token (the provider's cluster signs with it, remote clusters with their own)."""
        self.repo, self.token, self.cluster = repo, token, cluster
        self.tools = Tools(workdir, registry, ecr_registry)
        self.notifier = Notifier(receiver_url)
        self.provider = Cluster(cluster, token, routed=True)
        self.remotes: dict[str, Cluster] = {}
        self.paused = False  # nothing is reconciled while True: a silent Flux, for timeout tests
        self.processed: str | None = None  # the last head reconciled
        self.reconciles = 0
        self.errors: list[str] = []  # the emulator's own failures (tracebacks)
        self._faults: dict[str, tuple[str, str]] = {}
        self._adopting = False  # adopt(): what the head holds counts as applied, nothing is rendered or sent
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ observing
    @property
    def sent(self) -> list[Delivery]:
        return self.notifier.sent

    @property
    def events_sent(self) -> int:
        return len(self.notifier.sent)

    @property
    def renders(self) -> int:
        return self.tools.renders

    @property
    def process_seconds(self) -> dict[str, float]:
        """Wall seconds spent in helm and kubectl processes (the emulator's own cost, for the benchmark)."""
        return dict(self.tools.seconds)

    def head(self) -> str | None:
        try:
            return (self.repo / "refs" / "heads" / BRANCH).read_text().strip() or None
        except FileNotFoundError:  # packed by git gc
            packed = self.repo / "packed-refs"
            lines = packed.read_text().splitlines() if packed.is_file() else []
            return next((s for s, _, ref in (x.partition(" ") for x in lines) if ref == f"refs/heads/{BRANCH}"), None)

    def idle(self) -> bool:
        """Paused, or the current head is reconciled and every event it caused has been answered."""
        return self.paused or self.processed == self.head()

    def wait_idle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Flux emulator did not reconcile {self.head()} in {timeout:.0f}s")
            time.sleep(0.02)

    # ------------------------------------------------------------------ driving
    def adopt(self) -> str | None:
        """Take the current head as already reconciled, rendering nothing and sending nothing: a fleet that was
        running before this emulator started (the release benchmark seeds its tenants so). Every Kustomization
        is still built and validated; only what changes after the adopted head is rendered."""
        head = self.head()
        if head is not None:
            self._adopting = True
            try:
                self._reconcile(head)
            finally:
                self._adopting = False
            self.processed = head
        return head

    def start(self) -> FluxEmulator:
        self._thread = threading.Thread(target=self._loop, name="flux-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def fail_next(self, tenant_id: str, reason: str = "InstallFailed", message: str = "injected failure") -> None:
        """The next reconcile of the tenant's HelmRelease fails with ``reason`` and exactly ``message``; a
        Kustomization reason (ReconciliationFailed, HealthCheckFailed) comes from the Kustomization holding it."""
        self._faults[tenant_id] = (reason, message)

    def drop_next(self, tenant_id: str, count: int = 1) -> None:
        """The next ``count`` events about the tenant are lost on the way (or suppressed): never posted."""
        self.notifier.drop_next(tenant_id, count)

    def _loop(self) -> None:
        while not self._stop.is_set():
            head = self.head()
            if self.paused or head is None or head == self.processed:
                self._stop.wait(0.05)
                continue
            try:
                self._reconcile(head)
            except Exception:  # kept for tests and the log; the next head is reconciled anyway
                self.errors.append(traceback.format_exc())
                log.exception("the Flux emulator failed on %s", head)
            self.processed = head

    # ------------------------------------------------------------------ reconciling
    def _reconcile(self, head: str) -> None:
        tree = subprocess.run(["git", "-C", str(self.repo), "archive", head], capture_output=True, check=True).stdout
        with tempfile.TemporaryDirectory(prefix="flux-") as tmp:
            root = Path(tmp)
            with tarfile.open(fileobj=io.BytesIO(tree)) as tar:
                tar.extractall(root, filter="data")
            self._reconcile_cluster(self.provider, self._kustomizations(root), root, head)
            present = {p.parent.name for p in root.glob("remote/*/release.yaml")}
            for tenant in sorted(present | self.remotes.keys()):
                token = tenant_token(self.token, tenant)
                alert = {"tenantId": tenant}  # the eventMetadata of the customer's Alert, as the runbook says
                remote = self.remotes.setdefault(
                    tenant, Cluster(f"remote/{tenant}", token, False, event_metadata=alert)
                )
                path = f"remote/{tenant}" if tenant in present else None  # gone: everything is pruned
                self._reconcile_cluster(remote, [(FLUX_NAMESPACE, path, [])], root, head)
                if path is None:
                    del self.remotes[tenant]
        self.reconciles += 1

    def _kustomizations(self, root: Path) -> list[tuple[str, str | None, list[str]]]:
        """The cluster's Flux Kustomizations as (name, path, dependsOn), dependencies first."""
        found = []
        for file in sorted((root / "clusters" / self.cluster).glob("*.y*ml")):
            for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
                if isinstance(doc, dict) and doc.get("apiVersion", "").startswith("kustomize.toolkit.fluxcd.io/"):
                    spec = doc.get("spec") or {}
                    depends = [d["name"] for d in spec.get("dependsOn") or []]
                    found.append((doc["metadata"]["name"], str(spec.get("path") or "./"), depends))
        ordered: list[tuple[str, str | None, list[str]]] = []
        while found:
            waiting = {k[0] for k in found}
            ready = [k for k in found if not waiting & set(k[2])] or found[:1]  # a cycle: in file order
            ordered += ready
            found = [k for k in found if k not in ready]
        return ordered

    def _build(self, root: Path, path: str) -> list[dict[str, Any]]:
        directory = (root / path).resolve()
        if not directory.is_dir() or not directory.is_relative_to(root.resolve()):
            raise _Failure("ReconciliationFailed", f"kustomization path not found: stat {path}: no such file")
        try:
            objects = self.tools.build(directory)
        except ToolFailed as exc:
            raise _Failure("ReconciliationFailed", f"kustomize build failed: {exc}") from None
        invalid = [
            f"{object_id(o)} dry-run failed (Invalid): {'; '.join(e)}" for o in objects if (e := validation_errors(o))
        ]
        if invalid:
            raise _Failure("ReconciliationFailed", "\n".join(invalid))
        return objects

    def _reconcile_cluster(self, cluster: Cluster, kustomizations: list[Any], root: Path, head: str) -> None:
        failed: set[str] = set()
        for name, path, depends in kustomizations:
            if failed & set(depends):
                failed.add(name)  # its dependency is not ready: nothing of it is applied
                continue
            try:
                objects = self._build(root, path) if path is not None else []
            except _Failure as failure:
                failed.add(name)
                files = [f for f in (root / path).rglob("*.y*ml") if f.name in failure.message] if path else []
                message = failure.message + named_objects(cluster, failure.message, files)
                self.notifier.kustomization_event(cluster, name, failure.reason, message, head)
                continue
            before, after = cluster.inventory.get(name, {}), {object_id(o): o for o in objects}
            kept = {i: o for i, o in before.items() if i not in after and prune_disabled(o)}  # stays applied
            changes = [f"{i} {'configured' if i in before else 'created'}" for i in after if before.get(i) != after[i]]
            changes += [f"{i} deleted" for i in before if i not in after and i not in kept]
            cluster.inventory[name] = {**kept, **after}
            if changes and not self._adopting:
                self.notifier.kustomization_event(cluster, name, "ReconciliationSucceeded", "\n".join(changes), head)
        everything = {i: o for inventory in cluster.inventory.values() for i, o in inventory.items()}
        releases = {
            (o["metadata"].get("namespace", "default"), o["metadata"]["name"]): o
            for o in everything.values()
            if o.get("kind") == "HelmRelease"
        }
        for key in sorted((cluster.applied.keys() | cluster.attempted.keys()) - releases.keys()):
            cluster.attempted.pop(key, None)
            if gone := cluster.applied.pop(key, None):
                message = f"Helm uninstall succeeded for release {gone['release']} with chart {gone['chart']}"
                self.notifier.release_event(cluster, gone["object"], "UninstallSucceeded", message, gone["version"])
        ordered = sorted(releases.items())
        rendered = self._render_concurrently(cluster, ordered, everything)
        with self.notifier.concurrent_deliveries(RENDER_CONCURRENCY if len(rendered) > 1 else 0):
            for key, release in ordered:  # one tenant's events in order; the cluster's answered before the next's
                self._reconcile_release(cluster, key, release, everything, head, rendered)

    def _render_concurrently(
        self, cluster: Cluster, releases: list[tuple[Key, dict[str, Any]]], objects: dict[str, Any]
    ) -> dict[Key, _Failure | None]:
        """Pull and render the HelmReleases this reconcile will render, RENDER_CONCURRENCY at a time (as
        helm-controller reconciles releases concurrently): each release's outcome, None when it rendered. Their
        events still go out one by one, in order, from ``_reconcile_release``."""
        todo = [
            (key, hr, "upgrade" if cluster.applied.get(key) else "install")
            for key, hr in releases
            if not self._adopting
            and cluster.attempted.get(key) != _desired(key, hr)
            and tenant_of(hr) not in self._faults
        ]
        if len(todo) < 2:
            return {}

        def render(item: tuple[Key, dict[str, Any], str]) -> tuple[Key, _Failure | None]:
            key, hr, action = item
            try:
                self._render(key, hr.get("spec") or {}, objects, action)
            except _Failure as failure:
                return key, failure
            return key, None

        with ThreadPoolExecutor(max_workers=RENDER_CONCURRENCY, thread_name_prefix="flux-render") as pool:
            return dict(pool.map(render, todo))

    def _reconcile_release(
        self,
        cluster: Cluster,
        key: Key,
        hr: dict[str, Any],
        objects: dict[str, Any],
        head: str,
        rendered: dict[Key, _Failure | None] | None = None,
    ) -> None:
        chart, _values, release, target = _parts(key, hr.get("spec") or {})
        desired = _desired(key, hr)
        if cluster.attempted.get(key) == desired:
            return  # nothing changed for this HelmRelease: Flux sends nothing
        cluster.attempted[key] = desired
        previous, version = cluster.applied.get(key), str(chart.get("version", ""))
        action, label = ("upgrade" if previous else "install"), f"{chart.get('chart')}@{version}"
        if self._adopting:  # running already: applied as it is, unrendered
            name = f"{target}/{release}.v1"
            cluster.applied[key] = {"object": hr, "version": version, "chart": label, "release": name, "number": 1}
            return
        try:
            if fault := self._faults.pop(tenant_of(hr), None):
                raise _Failure(*fault)
            if rendered is not None and key in rendered:  # rendered already, with the others of this reconcile
                if (failure := rendered[key]) is not None:
                    raise failure
            else:
                self._render(key, hr.get("spec") or {}, objects, action)
        except _Failure as failure:
            if failure.reason not in KUSTOMIZATION_REASONS:
                self.notifier.release_event(cluster, hr, failure.reason, failure.message, version)
                return
            owner = next((k for k, inv in cluster.inventory.items() if object_id(hr) in inv), FLUX_NAMESPACE)
            message = failure.message + named_objects(cluster, failure.message, [], [object_id(hr)])
            self.notifier.kustomization_event(cluster, owner, failure.reason, message, head, tenant_of(hr))
            return
        number = previous["number"] + 1 if previous else 1
        name = f"{target}/{release}.v{number}"
        cluster.applied[key] = {"object": hr, "version": version, "chart": label, "release": name, "number": number}
        message = f"Helm {action} succeeded for release {name} with chart {label}"
        self.notifier.release_event(cluster, hr, f"{action.capitalize()}Succeeded", message, version)

    def _render(self, key: Key, spec: dict[str, Any], objects: dict[str, Any], action: str) -> None:
        """Pull the exact chart version, render it with the release's values, validate every object (or _Failure)."""
        chart, values, release, target = _parts(key, spec)
        ref, version = chart.get("sourceRef") or {}, str(chart.get("version", ""))
        source_ns = ref.get("namespace") or key[0]
        try:
            source = objects.get(f"{ref.get('kind')}/{source_ns}/{ref.get('name')}")
            if source is None:
                raise ToolFailed(f"{ref.get('kind')} '{source_ns}/{ref.get('name')}' not found")
            tgz = self.tools.pull(str(source["spec"]["url"]), str(chart.get("chart")), version)
        except ToolFailed as exc:
            raise _Failure("ArtifactFailed", f"HelmChart '{source_ns}/{key[0]}-{key[1]}' is not ready: {exc}") from None
        failed = f"{action.capitalize()}Failed"
        prefix = f"Helm {action} failed for release {target}/{release} with chart {chart.get('chart')}@{version}: "
        try:
            rendered = self.tools.template(release, tgz, target, values)
        except ToolFailed as exc:
            raise _Failure(failed, f"{prefix}{exc}") from None
        invalid = [f"{object_id(o)}: {'; '.join(e)}" for o in rendered if (e := validation_errors(o))]
        if invalid:
            raise _Failure(failed, prefix + "\n".join(invalid))


def _desired(key: Key, hr: dict[str, Any]) -> str:
    """A digest of what a HelmRelease asks for (chart, values, release name, namespace): a change re-renders it."""
    chart, values, release, target = _parts(key, hr.get("spec") or {})
    return hashlib.sha256(json.dumps([chart, values, release, target], sort_keys=True).encode()).hexdigest()


def _parts(key: Key, spec: dict[str, Any]) -> tuple[dict[str, Any], Any, str, str]:
    """A HelmRelease's chart spec, values, release name and target namespace, with Flux's defaults."""
    target = spec.get("targetNamespace") or key[0]
    release = spec.get("releaseName") or (f"{target}-{key[1]}" if spec.get("targetNamespace") else key[1])
    return (spec.get("chart") or {}).get("spec") or {}, spec.get("values") or {}, release, target
