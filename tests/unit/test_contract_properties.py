"""Properties of the signup contract over generated details: accepted means schema-valid, and every rejection
names the paths of its violations.

Details are valid signups built from strategies, and mutations of them: unknown keys, snake_case keys (alone
or next to the camelCase one), wrong JSON types, bad CIDRs and missing fields. ``make test`` runs a few hundred
examples; ``make bench`` runs the same properties (``check``) over at least 10,000 (benchmarks/properties.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from pydantic.alias_generators import to_snake

from onboarding.contract.common import MAX_REJECTION_ERRORS
from onboarding.contract.signup import SignupRequested
from onboarding.validation import bounded, field_errors

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "v1" / "tenant-signup-requested.json"
REQUIRED = ("signupId", "tenantName", "adminEmail", "tier")
HYBRID_REQUIRED = ("nodeCidrs", "podCidrs", "nodeCount", "supportingServices")
TEST_EXAMPLES = 150  # per property in make test; the benchmark runs 10,000 and more


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


# ------------------------------------------------------------------ valid signups
NAME_CHARACTERS = st.characters(categories=["L", "M", "N", "P", "S", "Zs"]) | st.sampled_from("\u200c\u200d\u00ad")
names = st.builds(
    lambda first, rest: (first + rest)[:100],
    st.characters(categories=["L", "N"]),
    st.text(NAME_CHARACTERS, max_size=99),
)
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
words = st.text(ALNUM, min_size=1, max_size=10)
emails = st.builds(
    "{}{}@{}".format,
    words,
    st.lists(st.builds("{}{}".format, st.sampled_from("._+-"), words), max_size=2).map("".join),
    st.sampled_from(["acme.example", "mail.example.org", "xn--caf-dma.example", "sub.domain.co.uk"]),
)
visible_ascii = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
SUBNETS = [f"10.{a}.{b}.0/24" for a in range(0, 256, 17) for b in range(0, 256, 51)]  # disjoint /24s


@st.composite
def hybrid_specs(draw: st.DrawFn) -> dict[str, Any]:
    ranges = draw(st.lists(st.sampled_from(SUBNETS), min_size=2, max_size=12, unique=True))
    split = draw(st.integers(1, len(ranges) - 1))
    spec: dict[str, Any] = {
        "nodeCidrs": ranges[:split][:16],
        "podCidrs": ranges[split:][:16],
        "nodeCount": draw(st.integers(1, 100)),
        "supportingServices": draw(st.sampled_from(["bundled", "customer"])),
    }
    if spec["supportingServices"] == "customer":
        host = draw(st.text(ALNUM + ".-", min_size=1, max_size=40))
        spec["databaseEndpoint"] = f"{host}:{draw(st.integers(0, 99999))}"
        suffix = draw(st.text(ALNUM + "ABCXYZ/_+=.@-", min_size=1, max_size=40))
        spec["databaseSecretArn"] = f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{suffix}"
    return spec


@st.composite
def valid_signups(draw: st.DrawFn) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "signupId": draw(st.text(visible_ascii, min_size=1, max_size=128)),
        "tenantName": draw(names),
        "adminEmail": draw(emails),
        "tier": draw(st.sampled_from(["basic", "premium", "advanced"])),
    }
    if draw(st.booleans()):
        detail["schemaVersion"] = "1"
    model = draw(st.sampled_from([None, "pooled", "siloed", "remote", "hybrid"]))
    if model is not None:
        detail["deploymentModel"] = model
    if model == "remote":
        detail["awsAccountId"] = draw(st.text("0123456789", min_size=12, max_size=12))
        detail["region"] = draw(st.sampled_from(["eu-west-1", "us-east-2", "us-gov-west-1", "ap-southeast-3"]))
    if model == "hybrid":
        detail["hybrid"] = draw(hybrid_specs())
    return detail


# ------------------------------------------------------------------ mutations
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
# A value of another JSON type than the field's, each one refused by the schema and by the contract.
WRONG_FOR = {
    "string": st.booleans() | st.integers() | st.floats(allow_nan=False) | st.lists(st.text(max_size=3), max_size=2),
    "integer": st.booleans()
    | st.builds("0{}".format, st.integers(0, 99))
    | st.integers(1, 100).map(str)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.just([3]),
    "array": st.text(max_size=20) | st.integers() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    "object": st.text(max_size=10) | st.integers() | st.lists(st.integers(), max_size=2),
}
TYPE_OF = {
    "signupId": "string",
    "tenantName": "string",
    "adminEmail": "string",
    "tier": "string",
    "deploymentModel": "string",
    "awsAccountId": "string",
    "region": "string",
    "schemaVersion": "string",
    "hybrid": "object",
    "hybrid.nodeCidrs": "array",
    "hybrid.podCidrs": "array",
    "hybrid.nodeCount": "integer",
    "hybrid.supportingServices": "string",
    "hybrid.databaseEndpoint": "string",
    "hybrid.databaseSecretArn": "string",
}
BAD_CIDRS = st.sampled_from(["8.8.8.0/24", "10.0.0.1/24", "banana", "10.0.0.0/33", "", "::1/128", "1.1.1.1"]) | (
    st.integers(0, 2**32 - 1)
)


def paths(value: Any, prefix: str = "") -> list[str]:
    """Every path of a JSON value, as the contract names them (``hybrid.nodeCidrs.1``)."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        path = f"{prefix}{key}"
        found += [path, *paths(child, f"{path}.")]
    return found


def container(detail: dict[str, Any], path: str) -> tuple[Any, str | int]:
    """The dict or list holding ``path``, and its key there."""
    *parents, last = path.split(".")
    node: Any = detail
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, int(last) if isinstance(node, list) else last


@dataclass
class Mutated:
    detail: dict[str, Any]
    named: set[str] = field(default_factory=set)  # paths a rejection must name


@st.composite
def mutations(draw: st.DrawFn) -> Mutated:
    detail = copy.deepcopy(draw(valid_signups()))
    mutated = Mutated(detail)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["unknown", "snake", "both", "type", "cidr", "missing"]))
        objects = ["", *(["hybrid."] if isinstance(detail.get("hybrid"), dict) else [])]
        where = draw(st.sampled_from(objects))
        target: dict[str, Any] = detail if where == "" else detail["hybrid"]
        camel = [k for k in target if to_snake(k) != k]
        if kind == "unknown":
            key = draw(st.text(min_size=1, max_size=30))
            if key in target or "." in key or key in TYPE_OF or f"hybrid.{key}" in TYPE_OF:
                continue  # a known field (or one already there), not an unknown one
            target[key] = draw(json_values)
            mutated.named.add(f"{where}{key}")
        elif kind in ("snake", "both") and camel:
            key = draw(st.sampled_from(camel))
            value = target[key] if kind == "both" else target.pop(key)
            target[to_snake(key)] = copy.deepcopy(value)
            mutated.named.add(f"{where}{to_snake(key)}")
            if kind == "snake":
                mutated.named.discard(f"{where}{key}")  # its value moved: whatever was wrong there moved with it
        elif kind == "type":
            path = draw(st.sampled_from(sorted(p for p in paths(detail) if p in TYPE_OF)))
            node, slot = container(detail, path)
            node[slot] = draw(WRONG_FOR[TYPE_OF[path]])
            mutated.named.add(path)
        elif kind == "cidr" and isinstance(detail.get("hybrid"), dict):
            which = draw(st.sampled_from(["nodeCidrs", "podCidrs"]))
            cidrs = detail["hybrid"].get(which)
            if isinstance(cidrs, list) and cidrs:
                index = draw(st.integers(0, len(cidrs) - 1))
                cidrs[index] = draw(BAD_CIDRS)
                mutated.named.add(f"hybrid.{which}.{index}")
        elif kind == "missing":
            required = REQUIRED if where == "" else HYBRID_REQUIRED
            if present := [k for k in required if k in target]:
                key = draw(st.sampled_from(present))
                del target[key]
                mutated.named.add(f"{where}{key}")
    # A mutation can undo another (a value replaced, then its key renamed away): name only what still applies,
    # a path that is there, or a required one that is missing from an object that is there.
    mutated.named = {path for path in mutated.named if still_applies(detail, path)}
    return mutated


def still_applies(detail: dict[str, Any], path: str) -> bool:
    if path in paths(detail):
        return True
    parent, _, key = path.rpartition(".")
    holder = detail if not parent else detail.get(parent) if parent == "hybrid" else None
    return isinstance(holder, dict) and key not in holder and key in (*REQUIRED, *HYBRID_REQUIRED)


# ------------------------------------------------------------------ the properties
@dataclass
class Outcome:
    accepted: bool
    errors: list[tuple[str, str]]


def required_paths(detail: Any) -> set[str]:
    """The paths a detail must have: the required fields, and those its deployment model requires."""
    required = set(REQUIRED)
    if not isinstance(detail, dict):
        return required
    model = detail.get("deploymentModel")
    if model == "remote":
        required |= {"awsAccountId", "region"}
    if model == "hybrid":
        required.add("hybrid")
    spec = detail.get("hybrid")
    if isinstance(spec, dict):
        required |= {f"hybrid.{k}" for k in HYBRID_REQUIRED}
        if spec.get("supportingServices") == "customer":
            required |= {"hybrid.databaseEndpoint", "hybrid.databaseSecretArn"}
    return required


def check(detail: Any, named: AbstractSet[str] = frozenset()) -> Outcome:
    """Parse ``detail`` as the intake does, and assert the contract's properties of the outcome.

    Accepted: the detail, and the signup's own wire form, are valid against the published JSON Schema.
    Rejected: the errors the rejection event carries are bounded, and each names a path of the detail, a
    required field, or (the count of errors past the bound) ``detail``; every path in ``named`` is named.
    Any other exception than a ValidationError propagates: a crash.
    """
    try:
        signup = SignupRequested.from_wire(detail)
    except ValidationError as exc:
        errors = bounded(field_errors(exc))
        assert 1 <= len(errors) <= MAX_REJECTION_ERRORS + 1, errors
        fields = {e.field for e in errors}
        existing = set(paths(detail)) | required_paths(detail) | {"detail"}
        assert fields <= existing, (fields - existing, detail)
        if len(errors) <= MAX_REJECTION_ERRORS:
            assert named <= fields, (named - fields, errors)
        return Outcome(accepted=False, errors=[(e.field, e.message) for e in errors])
    schema = validator()
    for form in (detail, signup.wire()):
        problems = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in schema.iter_errors(form)]
        assert not problems, (problems, form)
    assert not named, (named, "accepted, but these are violations")
    return Outcome(accepted=True, errors=[])


PROPERTY_SETTINGS = settings(
    max_examples=TEST_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@PROPERTY_SETTINGS
@given(valid_signups())
def test_every_valid_signup_is_accepted_and_schema_valid(detail: dict[str, Any]) -> None:
    assert check(detail).accepted


@PROPERTY_SETTINGS
@given(mutations())
def test_every_mutated_signup_is_schema_valid_or_rejected_naming_each_violation(mutated: Mutated) -> None:
    check(mutated.detail, mutated.named)


@PROPERTY_SETTINGS
@given(st.dictionaries(st.sampled_from([*REQUIRED, "hybrid", "deploymentModel", "x"]), json_values, max_size=6))
def test_any_json_object_is_schema_valid_or_rejected_at_existing_paths(detail: dict[str, Any]) -> None:
    check(detail)
