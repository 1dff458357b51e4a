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
from botocore.config import Config
from botocore.exceptions import ClientError

from onboarding_local import transport, warm

ONE_ATTEMPT = Config(retries={"mode": "standard", "max_attempts": 1})


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
    attached = transport.InThreadTransport(server.app, server.get_host_and_port()[1])
    attached.attach(in_thread_session.events)
    attached.attach(in_thread_session.events)  # attaching again changes nothing: each request is answered once
    try:
        yield tuple(  # type: ignore[misc]
            {
                name: session.client(name, endpoint_url=endpoint, config=ONE_ATTEMPT)
                for name in ("dynamodb", "s3", "events", "sqs")
            }
            for session in (in_thread_session, http_session)
        )
    finally:
        attached.detach(in_thread_session.events)


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
    # And a REST call with a path to encode, a query string, metadata named with underscores (kept as spelt) and a
    # binary body streamed back, read in parts, and closed
    data = bytes(range(256)) * 64
    in_thread["s3"].put_object(
        Bucket="tenant-artifacts",
        Key="dir/ä b+c.bin",
        Body=data,
        Metadata={"tenant_id": "t-1", "tier": "basic", "a-b": "dashed", "a_b": "underscored"},
    )
    metadata = []
    for client in clients:
        got_object = client["s3"].get_object(Bucket="tenant-artifacts", Key="dir/ä b+c.bin")
        metadata.append(got_object["Metadata"])
        with got_object["Body"] as body:
            assert body.read(10) == data[:10] and body.read() == data[10:]
    # (an underscored name that clashes with a dashed one is dropped, as werkzeug's server drops it)
    assert metadata[0] == metadata[1] == {"tenant_id": "t-1", "tier": "basic", "a-b": "dashed"}
    listings = [c["s3"].list_objects_v2(Bucket="tenant-artifacts", Prefix="dir/")["Contents"] for c in clients]
    listed = [[o["Key"] for o in listing] for listing in listings]
    assert listed[0] == listed[1] == ["dir/ä b+c.bin"]
    # And EventBridge's JSON protocol; and one request is one delivery (the hook was attached twice)
    entries = [{"Source": "s", "DetailType": "d", "Detail": "{}"}]
    for client in (in_thread["events"], http["events"]):
        assert client.put_events(Entries=entries)["FailedEntryCount"] == 0
    queue = http["sqs"].create_queue(QueueName="once")["QueueUrl"]
    in_thread["sqs"].send_message(QueueUrl=queue, MessageBody="one")
    assert (
        http["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "1"
    )


def test_an_exception_in_moto_is_a_500_as_over_http(
    clients: tuple[dict[str, Any], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.responses import DynamoHandler

    def broken(self: Any) -> Any:
        raise KeyError("a bug in moto")

    monkeypatch.setattr(DynamoHandler, "list_tables", broken)
    statuses = []
    for client in clients:
        with pytest.raises(ClientError) as failed:
            client["dynamodb"].list_tables()
        statuses.append(failed.value.response["ResponseMetadata"]["HTTPStatusCode"])
    assert statuses == [500, 500]


def test_the_thread_s_calls_open_no_socket(clients: tuple[dict[str, Any], dict[str, Any]], no_socket: None) -> None:
    in_thread, http = clients
    assert "TableNames" in in_thread["dynamodb"].list_tables()
    with pytest.raises(AssertionError, match="over HTTP"):
        http["dynamodb"].list_tables()


def test_another_address_and_a_stopped_transport_are_left_to_botocore(server: Any, endpoint: str) -> None:
    port = server.get_host_and_port()[1]
    answering = transport.InThreadTransport(server.app, port)

    def request(url: str) -> AWSPreparedRequest:
        return AWSPreparedRequest(method="GET", url=url, headers=HTTPHeaders(), body=None, stream_output=False)

    for url in (
        f"http://127.0.0.1:{port + 1}/",
        f"http://127.0.0.1:{port}0/",
        "https://dynamodb.us-east-1.amazonaws.com/",
    ):
        assert answering(request=request(url)) is None
    # (an unsigned GET of / is S3's ListBuckets for moto; moto-api/data.json would read every backend in the process)
    for host in ("127.0.0.1", "localhost"):  # moto's Step Functions engine calls localhost
        assert answering(request=request(f"http://{host}:{port}/")).status_code == 200
    answering.active = False  # a stopped stack's
    assert answering(request=request(f"{endpoint}/")) is None
