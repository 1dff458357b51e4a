"""The local stack's partition-scoped Query answers as moto's own Query does.

Two copies of the same tables, seeded alike, in two regions of one moto: every Query of a seeded sequence runs in
one region on moto's Query and in the other with ``queries.install``, and the whole responses (items, counts,
LastEvaluatedKey) must be equal. The tables: a partition key alone (string), partition and sort keys (string and
number) with a global and a local secondary index, a partition key alone with a sparse global index (as the
GitOps queue's), and a numeric partition key. The queries: every sort key condition, both orders, filters,
projections, limits, pages, Select COUNT, absent partitions, and the indexes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from onboarding_local import queries
from tests.utils.moto_aws import mocked_aws

MOTO_REGION, PARTITION_REGION = "us-east-1", "eu-west-1"
PARTITIONS = ["a", "b", "c", "d", "missing"]


def _create(client: Any, rng: random.Random) -> None:
    client.create_table(
        TableName="Hash",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "grp", "AttributeType": "S"},
            {"AttributeName": "v", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[  # sparse, as the GitOps queue's pending index: only items with a group
            {
                "IndexName": "byGroup",
                "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"}, {"AttributeName": "v", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="Numbers",
        KeySchema=[{"AttributeName": "n", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "n", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="Range",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byStatus",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byTime",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for pk in PARTITIONS[:-1]:
        client.put_item(TableName="Hash", Item={"pk": {"S": pk}, "v": {"N": str(rng.randrange(10))}})
        for sk in rng.sample(range(40), rng.randint(1, 25)):
            item = {"pk": {"S": pk}, "sk": {"N": str(sk)}, "v": {"N": str(rng.randrange(10))}, "blob": {"S": "x" * sk}}
            if rng.random() < 0.7:
                item["status"] = {"S": rng.choice(["ACTIVE", "FAILED"])}
                item["at"] = {"S": f"2026-11-{rng.randrange(1, 29):02d}"}
            client.put_item(TableName="Range", Item=item)
    for i in range(30):
        item = {"pk": {"S": f"k{i}"}, "v": {"N": str(rng.randrange(5))}}
        if rng.random() < 0.7:
            item["grp"] = {"S": rng.choice(["g1", "g2"])}
        client.put_item(TableName="Hash", Item=item)
    for n in ("1", "2.5", "10"):
        client.put_item(TableName="Numbers", Item={"n": {"N": n}})


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with mocked_aws():
        made = {region: boto3.client("dynamodb", region_name=region) for region in (MOTO_REGION, PARTITION_REGION)}
        for client in made.values():
            _create(client, random.Random(5))
        yield made


def _query(rng: random.Random) -> dict[str, Any]:
    table = rng.choice(["Hash", "Range", "Range", "Range", "Numbers"])
    if table == "Numbers":
        value = rng.choice(["1", "1.0", "2.50", "10", "3"])  # equal numbers written differently
        return {
            "TableName": table,
            "KeyConditionExpression": "n = :n",
            "ExpressionAttributeValues": {":n": {"N": value}},
        }
    query: dict[str, Any] = {"TableName": table, "ExpressionAttributeValues": {":pk": {"S": rng.choice(PARTITIONS)}}}
    condition = "pk = :pk"
    if table == "Hash" and rng.random() < 0.5:
        query.update(IndexName="byGroup", ExpressionAttributeValues={":g": {"S": rng.choice(["g1", "g2", "g3"])}})
        condition = "grp = :g" + rng.choice(["", " AND v >= :v0"])
        if ":v0" in condition:
            query["ExpressionAttributeValues"][":v0"] = {"N": str(rng.randrange(5))}
        query["ScanIndexForward"] = rng.random() < 0.5
        if rng.random() < 0.5:
            query["Limit"] = rng.randint(1, 6)
    if table == "Range":
        index = rng.choice([None, None, None, "byStatus", "byTime"])
        if index == "byStatus":
            query["IndexName"] = index
            query["ExpressionAttributeValues"] = {":s": {"S": rng.choice(["ACTIVE", "FAILED"])}}
            condition = "#status = :s"
            query["ExpressionAttributeNames"] = {"#status": "status"}
        elif index == "byTime":
            query["IndexName"] = index
            condition += " AND #at >= :at"
            query["ExpressionAttributeNames"] = {"#at": "at"}
            query["ExpressionAttributeValues"][":at"] = {"S": f"2026-11-{rng.randrange(1, 29):02d}"}
        else:
            low, high = sorted(rng.sample(range(45), 2))
            sort_condition = rng.choice(
                [None, "sk = :x", "sk < :x", "sk <= :x", "sk > :x", "sk >= :x", "sk BETWEEN :x AND :y"]
            )
            if sort_condition:
                condition += f" AND {sort_condition}"
                query["ExpressionAttributeValues"][":x"] = {"N": str(low)}
                if ":y" in sort_condition:
                    query["ExpressionAttributeValues"][":y"] = {"N": str(high)}
        query["ScanIndexForward"] = rng.random() < 0.6
        if rng.random() < 0.4:
            query["Limit"] = rng.randint(1, 8)
    if rng.random() < 0.3:
        query["FilterExpression"] = "v > :v"
        query["ExpressionAttributeValues"][":v"] = {"N": str(rng.randrange(10))}
    if rng.random() < 0.2:
        query["Select"] = "COUNT"
    elif rng.random() < 0.2:
        query["ProjectionExpression"] = "pk, v"
    query["KeyConditionExpression"] = condition
    return query


def _pages(client: Any, query: dict[str, Any]) -> list[Any]:
    pages: list[Any] = []
    request = dict(query)
    while True:
        try:
            page = client.query(**request)
        except ClientError as error:
            return [error.response["Error"]]
        page.pop("ResponseMetadata")
        pages.append(page)
        if "LastEvaluatedKey" not in page or len(pages) > 60:
            return pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_every_query_answers_as_motos_own(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[Any] = []  # the tables moto's own list of every item was made for
    whole_table = Table.all_items

    def counted(table: Any) -> Any:
        listed.append(table)
        return whole_table(table)

    monkeypatch.setattr(Table, "all_items", counted)  # before install: the patch falls back to this one
    rng = random.Random(20261128)
    paged = found = empty = 0
    for _ in range(200):
        query = _query(rng)
        expected = _pages(clients[MOTO_REGION], query)
        listed.clear()
        with queries.installed():
            got = _pages(clients[PARTITION_REGION], query)
        assert got == expected, query
        assert listed == [], query  # every Query, of a table or an index, took the scoped list
        paged += len(expected) > 1
        found += any(page.get("Count") for page in expected)
        empty += all(page.get("Count") == 0 for page in expected)
    assert paged and found and empty  # the sequence reached pages, results and empty partitions
