"""EventBridge publisher for the outbound status events."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from onboarding.adapters.aws import translate
from onboarding.contract.common import ContractModel
from onboarding.errors import EventPublishFailed, TransientError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

MAX_ENTRIES = 10  # PutEvents limit
TRANSIENT_ENTRY_CODES = frozenset({"ThrottlingException", "InternalFailure", "InternalException"})


class EventBridgePublisher:
    def __init__(self, bus_name: str, source: str, client: EventBridgeClient | None = None) -> None:
        self._bus = bus_name
        self._source = source
        self._client = client or boto3.client("events")

    def publish(self, events: Sequence[ContractModel]) -> None:
        self._put([self._entry(self._source, e.DETAIL_TYPE, e.wire()) for e in events])

    def send(self, source: str, detail_type: str, detail: Mapping[str, Any]) -> None:
        """One event with its own source and detail-type (an SBT answer, a request put back on the bus)."""
        self._put([self._entry(source, detail_type, detail)])

    def _entry(self, source: str, detail_type: str, detail: Mapping[str, Any]) -> PutEventsRequestEntryTypeDef:
        entry: PutEventsRequestEntryTypeDef = {
            "EventBusName": self._bus,
            "Source": source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, ensure_ascii=False),
        }
        trace = os.environ.get("_X_AMZN_TRACE_ID")  # set by the Lambda runtime per invocation
        if trace:
            entry["TraceHeader"] = trace
        return entry

    def _put(self, entries: list[PutEventsRequestEntryTypeDef]) -> None:
        for start in range(0, len(entries), MAX_ENTRIES):
            batch = entries[start : start + MAX_ENTRIES]
            try:
                response = self._client.put_events(Entries=batch)
            except (ClientError, BotoCoreError) as exc:
                raise translate(exc, "events:PutEvents", EventPublishFailed) from exc
            if response.get("FailedEntryCount", 0):
                failed = [e for e in response["Entries"] if e.get("ErrorCode")]
                message = f"{len(failed)} of {len(batch)} status events were not accepted: {failed}"
                if all(e.get("ErrorCode") in TRANSIENT_ENTRY_CODES for e in failed):
                    raise TransientError(message)
                raise EventPublishFailed(message)
