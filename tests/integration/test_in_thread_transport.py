"""The local stack's own AWS calls are answered by moto's WSGI app in the calling thread (onboarding_local.transport):
the same answers as over HTTP from the same server, no socket opened, and any other address left to botocore."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.httpsession
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

from onboarding_local import transport, warm


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    running = warm.moto_server("127.0.0.1")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def endpoint(server: Any) -> str:
    return f"http://127.0.0.1:{server.get_host_and_port()[1]}"


@pytest.fixture
def clients(server: Any, endpoint: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(in the thread, over HTTP): clients of the same server, from a session with the transport and one without."""
    in_thread_session, http_session = (
        boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        for _ in range(2)
    )
    attached = transport.start(server.app, endpoint, in_thread_session.events)
    try:
        yield tuple(  # type: ignore[misc]
            {name: session.client(name, endpoint_url=endpoint) for name in ("dynamodb", "s3", "events")}
            for session in (in_thread_session, http_session)
        )
    finally:
        transport.stop(attached, in_thread_session.events)
    assert transport.current() is None


@pytest.fixture
def no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a request went over HTTP")

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", refuse)


def answer(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def test_calls_answered_in_the_thread_get_what_http_gets(clients: tuple[dict[str, Any], dict[str, Any]]) -> None:
    in_thread, http = clients
    # Given a table and a bucket made over HTTP
    http["dynamodb"].create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    http["s3"].create_bucket(Bucket="tenant-artifacts")
    item = {"k": {"S": "tenant é/1"}, "blob": {"B": bytes(range(256))}, "n": {"N": "7"}}
    # When one writes in the thread and the other over HTTP, both read back the same
    in_thread["dynamodb"].put_item(TableName="t", Item=item)
    key = {"k": {"S": "tenant é/1"}}
    got = [answer(c["dynamodb"].get_item(TableName="t", Key=key, ConsistentRead=True)) for c in clients]
    assert got[0] == got[1] == {"Item": item}
    # And a refused write is the same error either way
    for client in (in_thread["dynamodb"], http["dynamodb"]):
        with pytest.raises(ClientError) as refused:
            client.put_item(TableName="t", Item=item, ConditionExpression="attribute_not_exists(k)")
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    # And a REST call with a path to encode, a query string and a binary body streamed back
    in_thread["s3"].put_object(Bucket="tenant-artifacts", Key="dir/ä b+c.bin", Body=bytes(range(256)) * 64)
    bodies = [c["s3"].get_object(Bucket="tenant-artifacts", Key="dir/ä b+c.bin")["Body"].read() for c in clients]
    assert bodies[0] == bodies[1] == bytes(range(256)) * 64
    listed = [
        [o["Key"] for o in c["s3"].list_objects_v2(Bucket="tenant-artifacts", Prefix="dir/")["Contents"]]
        for c in clients
    ]
    assert listed[0] == listed[1] == ["dir/ä b+c.bin"]
    # And EventBridge's JSON protocol
    entries = [{"Source": "s", "DetailType": "d", "Detail": "{}"}]
    for client in (in_thread["events"], http["events"]):
        assert client.put_events(Entries=entries)["FailedEntryCount"] == 0


def test_the_thread_s_calls_open_no_socket(clients: tuple[dict[str, Any], dict[str, Any]], no_socket: None) -> None:
    in_thread, http = clients
    assert "TableNames" in in_thread["dynamodb"].list_tables()
    with pytest.raises(AssertionError, match="over HTTP"):
        http["dynamodb"].list_tables()


def test_another_address_is_left_to_botocore(server: Any, endpoint: str) -> None:
    port = int(endpoint.rsplit(":", 1)[1])
    answering = transport.InThreadTransport(server.app, endpoint)
    for url in (
        f"http://127.0.0.1:{port + 1}/",
        f"http://127.0.0.1:{port}0/",
        "https://dynamodb.us-east-1.amazonaws.com/",
    ):
        request = AWSPreparedRequest(method="POST", url=url, headers=HTTPHeaders(), body=b"{}", stream_output=False)
        assert answering(request=request) is None
    same = AWSPreparedRequest(
        method="GET", url=f"{endpoint}/moto-api/data.json", headers=HTTPHeaders(), body=None, stream_output=False
    )
    assert answering(request=same).status_code == 200
