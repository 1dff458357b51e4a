"""DynamoDB's attribute values, serialized by the local stack's moto without walking botocore's model for each one.

moto serializes a response by walking the operation's output shape. A DynamoDB item is a map of AttributeValue
structures with ten members each (S, N, B, SS, NS, BS, M, L, NULL, BOOL), and for every member of every value,
nested maps and lists included, moto asks its attribute picker for the value under six aliases. That walk is
most of what a GetItem, a Query or a Scan costs in moto: a Scan of 101 tenant records took 0.6 s of CPU (0.08 s
with this).

moto's DynamoDB responses hand the serializer plain values (``dynamo_to_dict``): each attribute value a dict of
one member, binary values as bytes. For those, the output of moto's walk is known member by member, and is built
here directly: strings and booleans as they are, binaries base64-encoded as moto encodes them, maps and lists
recursively. Anything else (a value of another shape, two members, a None, an unexpected type, a map member
named "") goes through moto's own walk, unchanged. tests/integration/test_attribute_values.py checks byte for
byte that both give the same responses, errors included, for every kind of value and for moto's DynamoDB
operations that return items.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges

_STRINGS = frozenset({"S", "N"})
_STRING_SETS = frozenset({"SS", "NS"})
_BOOLEANS = frozenset({"NULL", "BOOL"})


class _Unusual(Exception):
    """A value moto's own walk must serialize."""


def serialized(value: Any, base64: Any) -> dict[str, Any]:
    """The JSON moto's walk makes of one AttributeValue, or _Unusual. ``base64`` is the serializer's own encoder."""
    if type(value) is not dict or len(value) != 1:
        raise _Unusual
    ((member, inner),) = value.items()
    if member in _STRINGS:
        if type(inner) is not str:
            raise _Unusual
        return {member: inner}
    if member == "M":
        if type(inner) is not dict or "" in inner:  # moto's walk merges a value named "" into its parent
            raise _Unusual
        return {member: {name: serialized(nested, base64) for name, nested in inner.items()}}
    if member == "L":
        if type(inner) is not list:
            raise _Unusual
        return {member: [serialized(nested, base64) for nested in inner]}
    if member in _BOOLEANS:
        if type(inner) is not bool:
            raise _Unusual
        return {member: inner}
    if member == "B":
        if type(inner) is not bytes:
            raise _Unusual
        return {member: base64(inner)}
    if member in _STRING_SETS:
        if type(inner) is not list or any(type(s) is not str for s in inner):
            raise _Unusual
        return {member: list(inner)}
    if member == "BS":
        if type(inner) is not list or any(type(b) is not bytes for b in inner):
            raise _Unusual
        return {member: [base64(b) for b in inner]}
    raise _Unusual


def install(changes: ProcessChanges) -> None:
    """Until ``changes`` is restored, moto's JSON serializer builds DynamoDB's AttributeValues directly."""
    from moto.core.serialize import BaseJSONSerializer

    walk = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, out: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and self.service_model.service_name == "dynamodb":
            try:
                out[self.get_serialized_name(shape, key)] = serialized(value, self._base64)
                return
            except _Unusual:
                pass
        walk(self, out, value, shape, key)

    changes.patch(BaseJSONSerializer, "_serialize_type_structure", serialize_structure)


def installed() -> AbstractContextManager[None]:
    """For code on plain moto (tests, benchmarks): the direct serialization, undone on exit."""
    from onboarding_local.processwide import applied

    return applied(install)
