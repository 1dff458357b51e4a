"""The local stack's direct serialization of DynamoDB's attribute values gives moto's own responses, byte for byte.

Each case runs the same DynamoDB calls against moto twice, once with moto's model walk and once with
``attribute_values.install``, and compares every raw response body. The values cover every member of
AttributeValue (nested maps and lists, sets, binaries, empty strings, unicode, values named ""), and the calls
every DynamoDB operation that returns items or keys, and errors that carry an item."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onboarding_local import attribute_values
from onboarding_local.processwide import ProcessChanges
from tests.utils.moto_aws import mocked_aws

TABLE = "Items"


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    with mocked_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def record(client: Any, calls: Callable[[], None]) -> list[bytes | str]:
    """Every raw response body ``calls`` gets (before botocore parses it), and the name of every error it raises."""
    seen: list[bytes | str] = []

    def keep(response_dict: Any, **_: Any) -> None:
        seen.append(response_dict["body"])

    client.meta.events.register("before-parse.dynamodb", keep)
    try:
        calls()
    finally:
        client.meta.events.unregister("before-parse.dynamodb", keep)
    return seen


def each(client: Any, calls: list[tuple[str, dict[str, Any]]]) -> None:
    """Make each call; an error (moto's, or botocore failing to parse a reply) is recorded by its name, not raised."""
    for operation, params in calls:
        try:
            getattr(client, operation)(**params)
        except Exception as exc:
            client.meta.events.emit("before-parse.dynamodb.error", response_dict={"body": type(exc).__name__})


def writes_and_reads(client: Any, items: list[dict[str, Any]]) -> Callable[[], None]:
    """A fixed sequence of calls that write, read and delete ``items``."""
    keys = [{"pk": item["pk"], "sk": item["sk"]} for item in items]
    touch = {"UpdateExpression": "SET touched = :t", "ExpressionAttributeValues": {":t": {"BOOL": True}}}
    untouch = {"UpdateExpression": "REMOVE touched", "ReturnValues": "UPDATED_OLD"}
    query = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "k"}}}
    on = {"TableName": TABLE}
    calls: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        calls += [("put_item", {**on, "Item": item}), ("put_item", {**on, "Item": item, "ReturnValues": "ALL_OLD"})]
    for key in keys:
        calls += [("get_item", {**on, "Key": key, "ConsistentRead": True})]
        calls += [("get_item", {**on, "Key": key, "ProjectionExpression": "pk, sk, v"})]
    calls += [("scan", {**on, "ConsistentRead": True}), ("scan", {**on, "Limit": 1}), ("query", {**on, **query})]
    calls += [("batch_get_item", {"RequestItems": {TABLE: {"Keys": keys}}})]
    calls += [("transact_get_items", {"TransactItems": [{"Get": {**on, "Key": key}} for key in keys]})]
    for key in keys:
        calls += [("update_item", {**on, "Key": key, **touch, "ReturnValues": "ALL_NEW"})]
        calls += [("update_item", {**on, "Key": key, **untouch})]
    calls += [("delete_item", {**on, "Key": key, "ReturnValues": "ALL_OLD"}) for key in keys]
    return lambda: each(client, calls)


def both_ways(client: Any, calls: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> tuple[list[bytes | str], ...]:
    """What ``calls`` gets with moto's walk, then with the direct serialization (which must have been used)."""
    walked = record(client, calls)
    changes = ProcessChanges()
    direct_values: list[Any] = []
    real = attribute_values.serialized

    def spy(value: Any, base64: Any) -> dict[str, Any]:
        direct_values.append(value)
        return real(value, base64)

    monkeypatch.setattr(attribute_values, "serialized", spy)
    attribute_values.install(changes)
    try:
        direct = record(client, calls)
    finally:
        changes.restore()
    assert direct_values, "the direct path was not taken"
    return walked, direct


SCALARS: dict[str, dict[str, Any]] = {
    "s": {"S": "plain"},
    "empty": {"S": ""},
    "unicode": {"S": 'ünï "quoted" \\ \u2028 \U0001f600'},
    "n": {"N": "-12.5e3"},
    "b": {"B": b"\x00\xffbinary\x80"},
    "ss": {"SS": ["b", "a", "ü"]},
    "ns": {"NS": ["1", "2.5", "-3"]},
    "bs": {"BS": [b"\x01", b"\x02\xfe"]},
    "null": {"NULL": True},
    "true": {"BOOL": True},
    "false": {"BOOL": False},
    "empty_map": {"M": {}},
    "empty_list": {"L": []},
}


def test_every_kind_of_value_nested_every_way_gives_the_same_bytes(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    nested = {"M": {**SCALARS, "inner": {"M": {"l": {"L": list(SCALARS.values())}}}}}
    items: list[dict[str, Any]] = [
        {"pk": {"S": "k"}, "sk": {"N": "1"}, "v": {"S": "x"}, **SCALARS},
        {"pk": {"S": "k"}, "sk": {"N": "2"}, "v": nested, "l": {"L": [nested, {"L": [nested]}]}},
        {"pk": {"S": "k"}, "sk": {"N": "3"}},
    ]

    walked, direct = both_ways(ddb, writes_and_reads(ddb, items), monkeypatch)

    assert len(walked) == len(direct) > 20
    assert walked == direct
    encoded = base64.b64encode(SCALARS["b"]["B"])
    assert any(encoded in body for body in direct)  # the binary, base64-encoded


def test_errors_carrying_an_item_are_moto_s_own(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto's DynamoDB errors build their own body (the serializer is not involved): the same bytes both ways
    item = {"pk": {"S": "e"}, "sk": {"N": "1"}, "b": SCALARS["b"], "m": {"M": {"a.b": {"S": "dotted"}, **SCALARS}}}
    key = {"pk": item["pk"], "sk": item["sk"]}
    check = {"ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    set_x = {"UpdateExpression": "SET x = :x", "ExpressionAttributeValues": {":x": {"S": "x"}}}
    transaction = [{"Put": {"TableName": TABLE, "Item": item, **check}}]

    def calls() -> None:
        each(
            ddb,
            [
                ("put_item", {"TableName": TABLE, "Item": item}),
                ("get_item", {"TableName": TABLE, "Key": key}),  # the item, serialized
                ("put_item", {"TableName": TABLE, "Item": item, **check}),  # ConditionalCheckFailed, with the item
                ("update_item", {"TableName": TABLE, "Key": key, **set_x, **check}),  # the same
            ],
        )
        with contextlib.suppress(ddb.exceptions.TransactionCanceledException):  # its reasons carry the item
            ddb.transact_write_items(TransactItems=transaction)
        ddb.delete_item(TableName=TABLE, Key=key)

    walked, direct = both_ways(ddb, calls, monkeypatch)

    assert walked == direct
    assert sum(b"ConditionalCheckFailed" in body for body in direct if isinstance(body, bytes)) == 3
    assert any(b"a.b" in body and b"CancellationReasons" in body for body in direct if isinstance(body, bytes))


@pytest.mark.parametrize("where", ["nested", "top"])
def test_a_value_named_empty_goes_through_moto_s_walk(ddb: Any, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    # moto's walk merges a value named "" into its parent map (and botocore cannot parse the result): the same here
    named_empty = {"": {"S": "x"}, "z": {"N": "1"}}
    attrs = {"m": {"M": named_empty}} if where == "nested" else named_empty
    item = {"pk": {"S": "k"}, "sk": {"N": "9"}, **attrs, "s": {"S": "y"}}

    walked, direct = both_ways(ddb, writes_and_reads(ddb, [item]), monkeypatch)

    assert walked == direct
    assert "AttributeError" in walked  # botocore's parser failed on moto's reply, both ways


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)  # "" only in nested maps
numbers = st.integers(-(10**12), 10**12) | st.decimals(allow_nan=False, allow_infinity=False, places=3)
attribute_names = names.filter(lambda n: n not in ("", "pk", "sk"))
scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=12)),
    st.builds(lambda n: {"N": str(n)}, numbers),
    st.builds(lambda b: {"B": b}, st.binary(min_size=1, max_size=12)),
    st.builds(lambda s: {"SS": sorted(s)}, st.sets(st.text(min_size=1, max_size=6), min_size=1, max_size=4)),
    st.builds(lambda s: {"NS": sorted(str(n) for n in s)}, st.sets(st.integers(-999, 999), min_size=1, max_size=4)),
    st.builds(lambda s: {"BS": sorted(s)}, st.sets(st.binary(min_size=1, max_size=6), min_size=1, max_size=4)),
    st.just({"NULL": True}),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(names, inner, max_size=4)),
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=4)),
    ),
    max_leaves=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(attribute_names, values, max_size=5), min_size=1, max_size=2))
def test_any_item_gives_the_same_bytes(ddb: Any, monkeypatch: pytest.MonkeyPatch, attrs: list[dict[str, Any]]) -> None:
    items = [{"pk": {"S": "k"}, "sk": {"N": str(i)}, **a} for i, a in enumerate(attrs)]

    walked, direct = both_ways(ddb, writes_and_reads(ddb, items), monkeypatch)

    assert walked == direct
