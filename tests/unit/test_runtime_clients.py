"""The handlers' adapters share one boto3 client per service per sandbox (onboarding.runtime)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from onboarding import runtime


@pytest.fixture(autouse=True)
def _fresh_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    runtime._cached_client.cache_clear()
    runtime._idempotency_store.cache_clear()
    yield
    runtime._cached_client.cache_clear()
    runtime._idempotency_store.cache_clear()


def test_the_idempotency_store_uses_the_sandboxs_dynamodb_client() -> None:
    # Without a client, Powertools builds its own session and client: a second construction on the first
    # invocation, and (on the local stack) calls that miss the stack's in-thread transport.
    store = runtime.idempotency_store("IdempotencyTable")

    assert store.client is runtime.client("dynamodb")
    assert store.table_name == "IdempotencyTable"
    assert runtime.idempotency_store("IdempotencyTable") is store  # built once per table per sandbox
