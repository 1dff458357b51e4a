"""The local stack's direct serialization of DynamoDB's attribute values gives moto's own responses, byte for byte.

Each case runs the same DynamoDB calls against moto twice, once with moto's model walk and once with
``attribute_values.install``, and compares every raw response body. The values cover every member of
AttributeValue (nested maps and lists, sets, binaries, empty strings, unicode), and the calls every DynamoDB
operation that returns items or keys."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from onboarding_local import attribute_values
from onboarding_local.processwide import ProcessChanges

TABLE = "Items"


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
            mp.setenv(key, value)
        with mock_aws():
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


def bodies(client: Any, items: list[dict[str, Any]]) -> list[bytes]:
    """Every raw response body of a fixed sequence of calls that write, read and delete ``items``."""
    seen: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        seen.append(http_response.content)

    client.meta.events.register("after-call.dynamodb", keep)
    try:
        keys = [{"pk": item["pk"], "sk": item["sk"]} for item in items]
        for item in items:
            client.put_item(TableName=TABLE, Item=item)
            client.put_item(TableName=TABLE, Item=item, ReturnValues="ALL_OLD")
        for key in keys:
            client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
            client.get_item(TableName=TABLE, Key=key, ProjectionExpression="pk, sk, v")
        client.scan(TableName=TABLE, ConsistentRead=True)
        client.scan(TableName=TABLE, Limit=1)
        client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "k"}})
        client.batch_get_item(RequestItems={TABLE: {"Keys": keys}})
        client.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key}} for key in keys])
        for key in keys:
            client.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="SET touched = :t",
                ExpressionAttributeValues={":t": {"BOOL": True}},
                ReturnValues="ALL_NEW",
            )
            client.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="REMOVE touched",
                ReturnValues="UPDATED_OLD",
            )
        for key in keys:
            client.delete_item(TableName=TABLE, Key=key, ReturnValues="ALL_OLD")
    finally:
        client.meta.events.unregister("after-call.dynamodb", keep)
    return seen


def both_ways(client: Any, items: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> tuple[list[bytes], ...]:
    walked = bodies(client, items)
    changes = ProcessChanges()
    direct_values: list[Any] = []
    real = attribute_values.serialized

    def spy(value: Any, base64: Any) -> dict[str, Any]:
        direct_values.append(value)
        return real(value, base64)

    monkeypatch.setattr(attribute_values, "serialized", spy)
    attribute_values.install(changes)
    try:
        direct = bodies(client, items)
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

    walked, direct = both_ways(ddb, items, monkeypatch)

    assert len(walked) == len(direct) > 20
    assert walked == direct
    encoded = base64.b64encode(SCALARS["b"]["B"])
    assert any(encoded in body for body in direct)  # the binary, base64-encoded


def test_an_error_response_is_moto_s_own(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    changes = ProcessChanges()
    attribute_values.install(changes)
    try:
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as failed:
            ddb.put_item(
                TableName=TABLE,
                Item={"pk": {"S": "e"}, "sk": {"N": "1"}},
                ConditionExpression="attribute_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
    finally:
        changes.restore()
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)
numbers = st.integers(-(10**12), 10**12) | st.decimals(allow_nan=False, allow_infinity=False, places=3)
attribute_names = names.filter(lambda n: n not in ("pk", "sk"))
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

    walked, direct = both_ways(ddb, items, monkeypatch)

    assert walked == direct
