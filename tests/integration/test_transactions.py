"""The local stack's item-by-item transaction backup leaves moto's DynamoDB as moto's own backup does.

Each transaction of a seeded sequence runs against two copies of the same tables in one moto: in one region with
moto's whole-table backup, in the other with ``transactions.install``. The transactions mix every operation
(Put, Update, Delete, ConditionCheck) on a table with a hash key and one with hash and range keys, with
conditions that hold or fail, items named twice, update expressions moto refuses half-way (after earlier
operations wrote), keys missing a part, and tables that do not exist. After each one, the error (its code,
message and cancellation reasons) and every item of both tables must be the same in both regions."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from onboarding_local import transactions
from tests.utils.moto_aws import mocked_aws

HASH_TABLE, RANGE_TABLE = "Tenants", "Queue"
MOTO_REGION, JOURNAL_REGION = "us-east-1", "eu-west-1"
OWN_REGION = "ap-southeast-2"  # the single cases' own tables: the compared regions stay alike, whatever the order


def _create(client: Any) -> None:
    client.create_table(
        TableName=HASH_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName=RANGE_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(4):
        client.put_item(TableName=HASH_TABLE, Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}})
        client.put_item(TableName=RANGE_TABLE, Item={"pk": {"S": "q"}, "sk": {"N": str(i)}, "v": {"N": str(i)}})


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with mocked_aws():
        made = {region: boto3.client("dynamodb", region_name=region) for region in (MOTO_REGION, JOURNAL_REGION)}
        for client in made.values():
            _create(client)
        yield made


def _key(rng: random.Random, table: str) -> dict[str, Any]:
    if table == HASH_TABLE:
        return {"pk": {"S": f"k{rng.randrange(6)}"}}
    return {"pk": {"S": rng.choice(["q", "q", "r"])}, "sk": {"N": str(rng.randrange(6))}}


def _operation(rng: random.Random) -> dict[str, Any]:
    table = rng.choice([HASH_TABLE, RANGE_TABLE])
    key = _key(rng, table)
    kind = rng.choice(["Put", "Update", "Delete", "ConditionCheck"])
    condition = rng.choice([None, "attribute_exists(v)", "attribute_not_exists(v)", "v < :limit"])
    values: dict[str, Any] = {":limit": {"N": str(rng.randrange(6))}} if condition == "v < :limit" else {}
    op: dict[str, Any] = {"TableName": table}
    if kind == "Put":
        op["Item"] = {**key, "v": {"N": str(rng.randrange(100))}, "tags": {"SS": ["a", str(rng.randrange(3))]}}
    else:
        op["Key"] = key
    if kind == "Update":
        refused = rng.random() < 0.15  # names a value the request does not give: moto refuses it mid-way
        op["UpdateExpression"] = "SET v = :missing" if refused else "SET v = :v, touched = :t"
        if not refused:
            values.update({":v": {"N": str(rng.randrange(100))}, ":t": {"BOOL": True}})
    if kind == "ConditionCheck" and condition is None:
        condition = "attribute_exists(pk)"
    if condition is not None:
        op["ConditionExpression"] = condition
    if values:
        op["ExpressionAttributeValues"] = values
    return {kind: op}


def _transaction(rng: random.Random) -> list[dict[str, Any]]:
    operations = [_operation(rng) for _ in range(rng.randint(1, 4))]
    odd = rng.random()
    if odd < 0.08:
        operations.append(operations[0])  # an item named twice
    elif odd < 0.12:
        first = next(iter(operations[0].values()))  # a key missing a part
        part, dropped = ("Item" if "Item" in first else "Key"), ("sk" if first["TableName"] == RANGE_TABLE else "pk")
        first[part] = {name: value for name, value in first[part].items() if name != dropped}
    elif odd < 0.15:
        next(iter(operations[-1].values()))["TableName"] = "Missing"
    return operations


def _outcome(client: Any, operations: list[dict[str, Any]]) -> tuple[Any, ...]:
    try:
        client.transact_write_items(TransactItems=operations)
    except ClientError as error:
        return (error.response["Error"], error.response.get("CancellationReasons"))
    return ("written",)


def _items(client: Any) -> dict[str, list[dict[str, Any]]]:
    return {table: sorted(client.scan(TableName=table)["Items"], key=repr) for table in (HASH_TABLE, RANGE_TABLE)}


def test_every_transaction_leaves_the_same_items_and_errors_as_motos_backup(clients: dict[str, Any]) -> None:
    rng = random.Random(20261128)
    outcomes: set[str] = set()
    for _ in range(160):
        operations = _transaction(rng)
        expected = _outcome(clients[MOTO_REGION], operations)
        with transactions.installed():
            got = _outcome(clients[JOURNAL_REGION], operations)
        assert got == expected, operations
        assert _items(clients[JOURNAL_REGION]) == _items(clients[MOTO_REGION]), operations
        outcomes.add("written" if expected == ("written",) else expected[0]["Code"])
    # the sequence reached every path: written, cancelled, and refused before or while writing
    assert outcomes >= {"written", "TransactionCanceledException", "ValidationException", "ResourceNotFoundException"}


def _backend(region: str) -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]


@pytest.fixture
def own(clients: dict[str, Any], request: pytest.FixtureRequest) -> tuple[Any, str]:
    """A client in OWN_REGION and a fresh table of its own (partition key ``pk``)."""
    client = boto3.client("dynamodb", region_name=OWN_REGION)
    name = f"Own-{request.node.name.removeprefix('test_')[:60]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client, name


def test_a_cancelled_transaction_puts_back_only_its_own_items_in_the_same_table(own: tuple[Any, str]) -> None:
    client, name = own
    table = _backend(OWN_REGION).get_table(name)
    client.put_item(TableName=name, Item={"pk": {"S": "mine"}, "v": {"N": "1"}})
    real_put = table.put_item

    def put_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # another handler's write to the same table, while the transaction runs
        table.put_item = real_put
        real_put({"pk": {"S": "theirs"}, "v": {"N": "7"}})
        return real_put(*args, **kwargs)

    table.put_item = put_meanwhile
    try:
        with transactions.installed(), pytest.raises(ClientError, match="TransactionCanceled"):
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": name, "Item": {"pk": {"S": "mine"}, "v": {"N": "2"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": name,
                            "Key": {"pk": {"S": "absent"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
    finally:
        vars(table).pop("put_item", None)

    mine = client.get_item(TableName=name, Key={"pk": {"S": "mine"}})["Item"]
    theirs = client.get_item(TableName=name, Key={"pk": {"S": "theirs"}}).get("Item")
    assert mine["v"] == {"N": "1"}  # the transaction's own write is undone
    assert theirs == {"pk": {"S": "theirs"}, "v": {"N": "7"}}  # moto's backup would have undone this one too
    assert _backend(OWN_REGION).get_table(name) is table  # no table was replaced by a copy


def test_a_table_with_a_stream_keeps_motos_own_backup(clients: dict[str, Any]) -> None:
    client = boto3.client("dynamodb", region_name=OWN_REGION)
    client.create_table(
        TableName="Streamed",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    before = _backend(OWN_REGION).get_table("Streamed")
    with transactions.installed(), pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "Streamed", "Item": {"pk": {"S": "a"}}}},
                {
                    "Put": {
                        "TableName": "Streamed",
                        "Item": {"pk": {"S": "b"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    after = _backend(OWN_REGION).get_table("Streamed")
    assert after is not before  # moto's path: the table (and its stream's records) put back from its copy
    assert client.scan(TableName="Streamed")["Items"] == []
    assert after.stream_shard is not None and after.stream_shard.items == []
