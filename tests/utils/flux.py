"""Validates Kubernetes objects the way the cluster would, offline, against the real Flux CRDs.

The CRDs in ``tests/data/flux-crds`` are copies of the ones Flux installs. For a custom resource the
object is checked against ``spec.versions[].schema.openAPIV3Schema`` of the CRD for its group, kind
and version, made STRICT: every object schema that lists ``properties`` (and neither preserves
unknown fields nor says anything about additional properties) gets ``additionalProperties: false``.
The API server prunes unknown fields silently, so a misspelled field would be dropped without an
error in a cluster; here it fails the test instead.

``metadata`` is not described by CRDs, so it is checked here: the fields a manifest may set, names
and namespaces as DNS-1123 names, label keys and values as Kubernetes requires.

Not evaluated: the CEL rules of ``x-kubernetes-validations`` (assert those that matter explicitly).
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

CRD_DIR = Path(__file__).resolve().parents[1] / "data" / "flux-crds"

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Core kinds the pipeline writes, with whether they are namespaced.
# Kinds without a CRD here: apiVersion/kind -> namespaced. Their spec is checked as data by their own tests.
CORE_KINDS: dict[tuple[str, str], bool] = {("v1", "Namespace"): False, ("networking.k8s.io/v1", "NetworkPolicy"): True}
_METADATA_FIELDS = {"name", "generateName", "namespace", "labels", "annotations", "finalizers", "ownerReferences"}
_TOP_LEVEL_FIELDS = {"apiVersion", "kind", "metadata", "spec", "status"}
_ANNOTATIONS_MAX_BYTES = 256 * 1024


class ManifestInvalid(AssertionError):
    """The object would be rejected by the cluster (or silently lose fields)."""


@functools.cache
def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    crds: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                spec = doc["spec"]
                crds[(spec["group"], spec["names"]["kind"])] = doc
    if not crds:
        raise RuntimeError(f"no CustomResourceDefinitions found in {CRD_DIR}")
    return crds


def known_kinds() -> list[tuple[str, str]]:
    """Every (apiVersion, kind) the helper can validate."""
    kinds = [
        (f"{group}/{version['name']}", kind)
        for (group, kind), crd in _crds().items()
        for version in crd["spec"]["versions"]
        if version.get("served", False)
    ]
    return sorted(kinds + list(CORE_KINDS))


def crd_for(api_version: str, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The CRD and its served version entry for ``apiVersion``/``kind``; ``ManifestInvalid`` if none."""
    group, _, version = api_version.rpartition("/")
    crd = _crds().get((group, kind))
    if crd is None:
        raise ManifestInvalid(f"no CRD for kind {kind!r} in group {group!r} (known: {known_kinds()})")
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version and entry.get("served", False):
            return crd, entry
    served = [v["name"] for v in crd["spec"]["versions"] if v.get("served", False)]
    raise ManifestInvalid(f"{kind} has no served version {version!r} in {group} (served: {served})")


def make_strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI v3 (structural) schema in which unknown fields are errors."""
    strict = copy.deepcopy(schema)
    _tighten(strict)
    return strict


def _tighten(node: Any) -> None:
    if not isinstance(node, dict):
        return
    properties = node.get("properties")
    if (
        isinstance(properties, dict)
        and not node.get("x-kubernetes-preserve-unknown-fields", False)
        and "additionalProperties" not in node
    ):
        node["additionalProperties"] = False
    for child in (properties or {}).values():
        _tighten(child)
    for key in ("items", "additionalProperties", "not"):
        _tighten(node.get(key))
    for key in ("allOf", "anyOf", "oneOf"):
        for child in node.get(key, []):
            _tighten(child)


@functools.cache
def _validator(api_version: str, kind: str) -> Draft7Validator:
    _, version = crd_for(api_version, kind)
    schema = make_strict(version["schema"]["openAPIV3Schema"])
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def _path(error: Any) -> str:
    return "." + ".".join(str(p) for p in error.absolute_path) if error.absolute_path else "<root>"


def _metadata_errors(obj: dict[str, Any], *, namespaced: bool, name_rule: re.Pattern[str], max_name: int) -> list[str]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return ["metadata: required, must be a mapping"]
    errors = [f"metadata.{key}: not a field a manifest sets" for key in sorted(set(metadata) - _METADATA_FIELDS)]
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        errors.append("metadata.name: required")
    elif len(name) > max_name or not name_rule.match(name):
        kind = "label" if name_rule is DNS1123_LABEL else "subdomain"
        errors.append(f"metadata.name: {name!r} is not a DNS-1123 {kind} of at most {max_name} characters")
    if "namespace" in metadata:
        namespace = metadata["namespace"]
        if not namespaced:
            errors.append(f"metadata.namespace: {obj.get('kind')} is cluster-scoped")
        elif not isinstance(namespace, str) or len(namespace) > 63 or not DNS1123_LABEL.match(namespace):
            errors.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
    for field in ("labels", "annotations"):
        values = metadata.get(field, {})
        if not isinstance(values, dict):
            errors.append(f"metadata.{field}: must be a mapping")
            continue
        for key, value in values.items():
            if not _qualified_name_ok(key):
                errors.append(f"metadata.{field}: key {key!r} is not a qualified name")
            if not isinstance(value, str):
                errors.append(f"metadata.{field}.{key}: value must be a string, got {type(value).__name__}")
            elif field == "labels" and (len(value) > 63 or not _LABEL_VALUE.match(value)):
                errors.append(f"metadata.labels.{key}: {value!r} is not a valid label value")
    annotations = metadata.get("annotations", {})
    if isinstance(annotations, dict):
        size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
        if size > _ANNOTATIONS_MAX_BYTES:
            errors.append(f"metadata.annotations: {size} bytes, more than {_ANNOTATIONS_MAX_BYTES}")
    return errors


def _qualified_name_ok(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_QUALIFIED_NAME.match(name))


def validation_errors(obj: Any) -> list[str]:
    """Every reason the cluster (with strict field checking) would refuse ``obj``; empty when valid."""
    if not isinstance(obj, dict):
        return [f"<root>: a Kubernetes object must be a mapping, got {type(obj).__name__}"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["<root>: apiVersion and kind are required strings"]
    if (api_version, kind) in CORE_KINDS:
        errors = [f".{key}: unknown field" for key in sorted(set(obj) - _TOP_LEVEL_FIELDS)]
        return errors + _metadata_errors(
            obj, namespaced=CORE_KINDS[(api_version, kind)], name_rule=DNS1123_LABEL, max_name=63
        )
    try:
        crd, _ = crd_for(api_version, kind)
    except ManifestInvalid as exc:
        return [str(exc)]
    errors = [f"{_path(e)}: {e.message}" for e in _validator(api_version, kind).iter_errors(obj)]
    namespaced = crd["spec"].get("scope", "Namespaced") == "Namespaced"
    return errors + _metadata_errors(obj, namespaced=namespaced, name_rule=DNS1123_SUBDOMAIN, max_name=253)


def assert_valid(obj: Any) -> None:
    """Raise ``ManifestInvalid`` listing every problem of ``obj``."""
    errors = validation_errors(obj)
    if errors:
        what = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')!r}" if isinstance(obj, dict) else "object"
        raise ManifestInvalid(f"{what} is not valid:\n  " + "\n  ".join(errors))
