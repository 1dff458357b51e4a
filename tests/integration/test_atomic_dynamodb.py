"""Two conditional writes of one item from two threads: exactly one wins on the local stack's moto, as on DynamoDB.

moto checks a write's condition, then writes. Each case holds every thread just after its condition check until
the other thread has checked too (or a second has passed): the interleaving a thread switch can make at any time
under a burst. With ``atomic.install`` the second request cannot start before the first is answered, so the
second's check sees the first's write."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb import models
from moto.dynamodb.models import table as table_module

from onboarding_local import atomic
from tests.utils.moto_aws import mocked_aws

TABLE = "Names"


@pytest.fixture
def client() -> Iterator[Any]:
    with mocked_aws():
        made = boto3.client("dynamodb", region_name="us-east-1")
        made.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield made


@pytest.fixture
def checks_meet(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Each condition check, once evaluated, waits for a second check, at most ``timeout`` seconds. With the lock
    the second cannot come (the outcome does not depend on the timeout); without it, it comes within milliseconds."""

    def meet(timeout: float) -> None:
        checked = threading.Barrier(2, timeout=timeout)

        def held(make: Callable[..., Any]) -> Callable[..., Any]:
            def made(*args: Any, **kwargs: Any) -> Any:
                op = make(*args, **kwargs)
                evaluate = op.expr

                def expr(item: Any) -> Any:
                    result = evaluate(item)
                    with contextlib.suppress(threading.BrokenBarrierError):  # the other waits for this request
                        checked.wait()
                    return result

                op.expr = expr
                return op

            return made

        monkeypatch.setattr(table_module, "get_filter_expression", held(table_module.get_filter_expression))
        monkeypatch.setattr(models, "get_filter_expression", held(models.get_filter_expression))

    return meet


def _race(*writes: Callable[[], None]) -> list[str]:
    outcomes: list[str] = []

    def run(write: Callable[[], None]) -> None:
        try:
            write()
            outcomes.append("won")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=run, args=(write,)) for write in writes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def _put(client: Any, owner: str) -> Callable[[], None]:
    return lambda: client.put_item(
        TableName=TABLE,
        Item={"name": {"S": "acme"}, "owner": {"S": owner}},
        ConditionExpression="attribute_not_exists(#name)",
        ExpressionAttributeNames={"#name": "name"},
    )


def _transact(client: Any, owner: str) -> Callable[[], None]:
    return lambda: client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {"name": {"S": "acme"}, "owner": {"S": owner}},
                    "ConditionExpression": "attribute_not_exists(#name)",
                    "ExpressionAttributeNames": {"#name": "name"},
                }
            }
        ]
    )


@pytest.mark.parametrize("write", [_put, _transact], ids=["PutItem", "TransactWriteItems"])
def test_of_two_concurrent_conditional_writes_exactly_one_wins(
    client: Any, checks_meet: Callable[[float], None], write: Callable[[Any, str], Callable[[], None]]
) -> None:
    checks_meet(2.0)  # without the lock the other thread checks within this, even on a loaded machine
    with atomic.installed():
        outcomes = _race(write(client, "first"), write(client, "second"))
    refused = "ConditionalCheckFailedException" if write is _put else "TransactionCanceledException"
    assert outcomes == [refused, "won"]
    owner = client.get_item(TableName=TABLE, Key={"name": {"S": "acme"}})["Item"]["owner"]["S"]
    assert owner in {"first", "second"}


def test_without_it_moto_lets_both_win(client: Any, checks_meet: Callable[[float], None]) -> None:
    # what the lock is for: this interleaving, on moto alone, makes two winners of one name (should a moto upgrade
    # make its writes atomic, this fails, and atomic.py can go)
    checks_meet(30.0)
    assert _race(_put(client, "first"), _put(client, "second")) == ["won", "won"]
