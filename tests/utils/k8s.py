"""Validates any Kubernetes object the project renders, offline, the way the API server would, but stricter.

``validate_object(obj)`` dispatches on ``apiVersion``/``kind``:

- **ACK kinds** (``tests/data/ack-crds``: DynamoDB Table, SQS Queue, IAM Role, EKS PodIdentityAssociation) and
  **Flux kinds** (``tests/data/flux-crds``): against their CRD's ``openAPIV3Schema`` made strict with
  ``tests.utils.flux.make_strict`` (unknown fields are errors, where the API server would prune them silently),
  plus flux.py's ``metadata`` checks. Flux objects go through ``tests.utils.flux.validation_errors`` as they are.
- **Core kinds** (everything else): against Kubernetes' own OpenAPI schemas for ``KUBERNETES_VERSION``, as shipped
  by ``kubernetes-validate`` in its strict variant (unknown fields are errors), plus the same ``metadata`` checks
  (names, namespaces, label keys and values). A kind that Kubernetes does not know is an error, not a warning.

Not evaluated: CEL rules (``x-kubernetes-validations``), quantities' syntax and cross-field rules the API server
enforces in code (assert those that matter explicitly).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, Draft202012Validator

from tests.utils import flux
from tests.utils.flux import DNS1123_LABEL, DNS1123_SUBDOMAIN, ManifestInvalid

# The Kubernetes version core objects are validated against (EKS standard support; kubectl here is 1.32 too).
KUBERNETES_VERSION = "1.32"

ACK_CRD_DIR = Path(__file__).resolve().parents[1] / "data" / "ack-crds"

# ACK and Flux API groups: their kinds are validated against CRDs, every other kind is a core kind.
ACK_GROUP_SUFFIX = ".services.k8s.aws"
FLUX_GROUP_SUFFIX = ".toolkit.fluxcd.io"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are large: libyaml when PyYAML has it

DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

# Core kinds that are cluster-scoped (every other core kind is namespaced).
_CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CustomResourceDefinition",
    "APIService",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
# Core kinds whose name must be a DNS-1123 label (or a DNS-1035 label for Services) rather than a subdomain.
_LABEL_NAMED = {"Namespace"}
_DNS1035_NAMED = {"Service"}

__all__ = ["KUBERNETES_VERSION", "ManifestInvalid", "assert_all_valid", "validate_object", "validation_errors"]


@functools.cache
def _ack_crds() -> dict[tuple[str, str], dict[str, Any]]:
    crds: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(ACK_CRD_DIR.glob("*.yaml")):
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                spec = doc["spec"]
                crds[(spec["group"], spec["names"]["kind"])] = doc
    if not crds:
        raise RuntimeError(f"no CustomResourceDefinitions found in {ACK_CRD_DIR}")
    return crds


@functools.cache
def _ack_validator(api_version: str, kind: str) -> Draft7Validator:
    group, _, version = api_version.rpartition("/")
    crd = _ack_crds()[(group, kind)]
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version and entry.get("served", False):
            schema = flux.make_strict(entry["schema"]["openAPIV3Schema"])
            Draft7Validator.check_schema(schema)
            return Draft7Validator(schema)
    served = [v["name"] for v in crd["spec"]["versions"] if v.get("served", False)]
    raise ManifestInvalid(f"{kind} has no served version {version!r} in {group} (served: {served})")


@functools.cache
def _core_schemas() -> tuple[str, Any]:
    """kubernetes-validate's strict schema directory for KUBERNETES_VERSION, and a registry of its definitions."""
    from kubernetes_validate import utils as kv
    from referencing import Registry, Resource

    # The same choice as kubernetes_validate.validate(): the schema set of that minor version.
    versions = [v for v in kv.all_versions() if kv.major_minor(v) == KUBERNETES_VERSION]
    if not versions:
        raise RuntimeError(f"kubernetes-validate {kv.__version__} has no schemas for Kubernetes {KUBERNETES_VERSION}")
    schema_dir = f"kubernetes-json-schema/v{versions[-1]}-local-strict"
    definitions = kv.schema_contents(f"{schema_dir}/_definitions.json", KUBERNETES_VERSION)
    return schema_dir, Resource.from_contents(definitions) @ Registry()


@functools.cache
def _core_validator(api_version: str, kind: str) -> Draft202012Validator:
    """kubernetes-validate's strict schema for ``kind``, built once (its ``validate()`` reloads it every call)."""
    from kubernetes_validate import utils as kv
    from referencing import Resource

    schema_dir, registry = _core_schemas()
    # apps/v1 -> apps-v1, networking.k8s.io/v1 -> networking-v1, v1 -> v1 (kubernetes-validate's file names)
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{api}.json", KUBERNETES_VERSION)
    except FileNotFoundError:
        raise ManifestInvalid(f"Kubernetes {KUBERNETES_VERSION} has no kind {kind!r} in {api_version!r}") from None
    return Draft202012Validator(schema, registry=Resource.from_contents(schema) @ registry)


def _path(error: Any) -> str:
    return "." + ".".join(str(p) for p in error.absolute_path) if error.absolute_path else "<root>"


def _schema_errors(validator: Any, obj: dict[str, Any]) -> list[str]:
    return [f"{_path(e)}: {e.message}" for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.path))]


def validation_errors(obj: Any) -> list[str]:
    """Every reason the cluster (with strict field validation) would refuse ``obj``; empty when valid."""
    if not isinstance(obj, dict):
        return [f"<root>: a Kubernetes object must be a mapping, got {type(obj).__name__}"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["<root>: apiVersion and kind are required strings"]
    group = api_version.rpartition("/")[0]
    if group.endswith(ACK_GROUP_SUFFIX):
        if (group, kind) not in _ack_crds():
            return [f"no CRD for kind {kind!r} in group {group!r} (known: {sorted(_ack_crds())})"]
        try:
            validator = _ack_validator(api_version, kind)
        except ManifestInvalid as exc:
            return [str(exc)]
        crd = _ack_crds()[(group, kind)]
        namespaced = crd["spec"].get("scope", "Namespaced") == "Namespaced"
        return _schema_errors(validator, obj) + flux._metadata_errors(
            obj, namespaced=namespaced, name_rule=DNS1123_SUBDOMAIN, max_name=253
        )
    if group.endswith(FLUX_GROUP_SUFFIX):
        return flux.validation_errors(obj)
    try:
        validator = _core_validator(api_version, kind)
    except ManifestInvalid as exc:
        return [str(exc)]
    if kind in _LABEL_NAMED or kind in _DNS1035_NAMED:
        errors = flux._metadata_errors(
            obj, namespaced=kind not in _CLUSTER_SCOPED, name_rule=DNS1123_LABEL, max_name=63
        )
        name = obj.get("metadata", {}).get("name") if isinstance(obj.get("metadata"), dict) else None
        if kind in _DNS1035_NAMED and isinstance(name, str) and not DNS1035_LABEL.match(name):
            errors.append(f"metadata.name: {name!r} is not a DNS-1035 label (a {kind} name starts with a letter)")
    else:
        errors = flux._metadata_errors(
            obj, namespaced=kind not in _CLUSTER_SCOPED, name_rule=DNS1123_SUBDOMAIN, max_name=253
        )
    return _schema_errors(validator, obj) + errors


def validate_object(obj: Any) -> None:
    """Raise ``ManifestInvalid`` listing every problem of ``obj`` (core, ACK or Flux kind)."""
    errors = validation_errors(obj)
    if errors:
        what = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')!r}" if isinstance(obj, dict) else "object"
        raise ManifestInvalid(f"{what} is not valid:\n  " + "\n  ".join(errors))


def assert_all_valid(objects: list[dict[str, Any]]) -> None:
    """Validate every object, and report all invalid ones at once."""
    problems = []
    for obj in objects:
        try:
            validate_object(obj)
        except ManifestInvalid as exc:
            problems.append(str(exc))
    if problems:
        raise ManifestInvalid("\n".join(problems))
