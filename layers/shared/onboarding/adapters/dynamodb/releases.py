"""Fleet releases in DynamoDB (ReleasesTable: releaseId + key): the release, its waves, approvals, one at a time.

A wave's members and what it keeps per tenant (previous versions, copy builds, failures with their bounded
reasons) are split over items of MEMBERS_PER_CHUNK tenants, so a wave of 10,000 tenants, all failed, stays
far below DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.adapters.dynamodb.codec import CONDITION_FAILED, from_item, to_item
from onboarding.errors import TransientError
from onboarding.fleet import MEMBERS_PER_CHUNK, ReleaseState, WaveState, release_execution_name
from onboarding.release_ended import ClaimHolder

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACTIVE = "active-release"  # the one item that makes releases run one at a time
PER_TENANT = ("members", "previous", "copies", "failed", "copy_failed")  # kept in the wave's chunks


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _names(holder: ClaimHolder | None, release_id: str, execution: str) -> bool:
    return holder is not None and (holder.release_id, holder.execution) == (release_id, execution)


class DynamoReleaseStore:
    def __init__(self, table: str, client: DynamoDBClient | None = None) -> None:
        self._table = table
        self._client: DynamoDBClient = client or boto3.client("dynamodb")

    def _get(self, release_id: str, key: str) -> dict[str, Any] | None:
        with translated(f"dynamodb:GetItem release {release_id} {key}"):
            item = self._client.get_item(
                TableName=self._table, Key={"releaseId": {"S": release_id}, "key": {"S": key}}, ConsistentRead=True
            ).get("Item")
        return from_item(item) if item else None

    def _put(self, item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None) -> bool:
        kwargs: dict[str, Any] = {"TableName": self._table, "Item": to_item(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = to_item(values)
        with translated(f"dynamodb:PutItem release {item['releaseId']} {item['key']}"):
            try:
                self._client.put_item(**kwargs)
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True

    # ------------------------------------------------------------------ the release
    def create(self, release: ReleaseState) -> bool:
        """Record a new release; False when that releaseId exists already."""
        item = {"releaseId": release.release_id, "key": "release", **release.wire()}
        return self._put(item, "attribute_not_exists(releaseId)")

    def get(self, release_id: str) -> ReleaseState | None:
        item = self._get(release_id, "release")
        return ReleaseState.model_validate(item) if item else None

    def save(self, release: ReleaseState) -> None:
        """Write the release record. An abort is never undone: a step that read the record before
        ``Fleet Release Aborted`` arrived saves its change with the abort kept."""
        item = {"releaseId": release.release_id, "key": "release", **release.wire()}
        if release.aborted:
            self._put(item)
        elif not self._put(item, "attribute_not_exists(aborted) OR aborted <> :yes", {":yes": True}):
            self._put({**item, "aborted": True})  # aborted since this step read it: keep the abort

    def mark_aborted(self, release_id: str) -> bool:
        """Set the release's ``aborted`` flag and nothing else (a step may be saving its status at the same
        moment); False when there is no such release."""
        with translated(f"dynamodb:UpdateItem release {release_id} aborted"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"releaseId": {"S": release_id}, "key": {"S": "release"}},
                    UpdateExpression="SET aborted = :yes",
                    ConditionExpression="attribute_exists(releaseId)",
                    ExpressionAttributeValues={":yes": {"BOOL": True}},
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True

    def claim(self, release_id: str) -> str | None:
        """Become the running release; returns the one running instead, or None when this one runs.

        The claim names the execution running the release (the one its releaseId names), so a later release
        can ask Step Functions whether it still runs.
        """
        item = {"releaseId": ACTIVE, "key": "lock", "holder": release_id, "claimedAt": _now(),
                "execution": release_execution_name(release_id)}  # fmt: skip
        if self._put(item, "attribute_not_exists(releaseId)"):
            return None
        current = self._get(ACTIVE, "lock")
        holder = str(current["holder"]) if current else None
        return None if holder == release_id else holder or "another release"

    def holder(self) -> ClaimHolder | None:
        """Who holds the claim now (a claim written before it named its execution: the one its release names)."""
        current = self._get(ACTIVE, "lock")
        if current is None:
            return None
        release_id = str(current["holder"])
        execution = str(current.get("execution") or release_execution_name(release_id))
        at = current.get("claimedAt")
        return ClaimHolder(release_id, execution, datetime.fromisoformat(str(at)) if at else None)

    def take_over(self, old: ClaimHolder, release_id: str, execution: str) -> bool:
        """Take the claim from ``old`` (whose execution ended); False when it no longer holds it.

        The write names the old holder, so of two intakes taking over the same claim one wins. A lost reply
        (the write landed, its answer did not arrive) is resolved by reading who holds it.
        """
        item = {"releaseId": ACTIVE, "key": "lock", "holder": release_id, "execution": execution, "claimedAt": _now()}
        try:
            with translated(f"dynamodb:PutItem active release from {old.release_id}"):
                try:
                    self._client.put_item(
                        TableName=self._table, Item=to_item(item),
                        ConditionExpression="holder = :old AND (attribute_not_exists(#exec) OR #exec = :exec)",
                        ExpressionAttributeNames={"#exec": "execution"},
                        ExpressionAttributeValues={":old": {"S": old.release_id}, ":exec": {"S": old.execution}},
                    )  # fmt: skip
                except ClientError as exc:
                    if error_code(exc) != CONDITION_FAILED:
                        raise
                    return _names(self.holder(), release_id, execution)  # a retry whose first write landed
        except TransientError:
            if _names(self.holder(), release_id, execution):
                return True
            raise
        return True

    def free(self, release_id: str) -> None:
        with translated("dynamodb:DeleteItem active release"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key={"releaseId": {"S": ACTIVE}, "key": {"S": "lock"}},
                    ConditionExpression="holder = :me",
                    ExpressionAttributeValues={":me": {"S": release_id}},
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise

    # ------------------------------------------------------------------ waves
    def save_wave(self, release_id: str, wave: WaveState) -> None:
        members = wave.members
        header = wave.model_copy(update={name: type(getattr(wave, name))() for name in PER_TENANT})
        chunks = max(1, -(-len(members) // MEMBERS_PER_CHUNK))
        self._put({"releaseId": release_id, "key": f"wave#{wave.index:03d}", "chunks": chunks, **header.wire()})
        # what is kept per tenant goes with the tenant's chunk; tenants that are not members go in the first
        chunk_of = {t: i // MEMBERS_PER_CHUNK for i, t in enumerate(members)}
        parts: list[dict[str, Any]] = [
            {"members": members[c * MEMBERS_PER_CHUNK : (c + 1) * MEMBERS_PER_CHUNK], "previous": {}, "copies": {},
             "failed": [], "copyFailed": []}
            for c in range(chunks)
        ]  # fmt: skip
        for name, values in (("previous", wave.previous), ("copies", wave.copies)):
            for tenant, value in values.items():
                parts[chunk_of.get(tenant, 0)][name][tenant] = value
        for name, failures in (("failed", wave.failed), ("copyFailed", wave.copy_failed)):
            for failure in failures:
                parts[chunk_of.get(failure.tenant_id, 0)][name].append(failure.wire())
        for c, part in enumerate(parts):
            self._put({"releaseId": release_id, "key": f"wave#{wave.index:03d}#part#{c:04d}", **part})

    def wave(self, release_id: str, index: int) -> WaveState:
        header = self._get(release_id, f"wave#{index:03d}")
        if header is None:
            raise KeyError(f"release {release_id} has no wave {index}")
        merged: dict[str, Any] = {"members": [], "previous": {}, "copies": {}, "failed": [], "copyFailed": []}
        for c in range(int(header.pop("chunks", 1))):
            part = self._get(release_id, f"wave#{index:03d}#part#{c:04d}") or {}
            for name, value in merged.items():
                got = part.get(name)
                if isinstance(value, dict):
                    value.update(got or {})
                else:
                    value.extend(got or [])
        header.pop("releaseId", None)
        header.pop("key", None)
        return WaveState.model_validate({**header, **merged})

    def put_approval(self, release_id: str, wave: str, task_token: str) -> None:
        self._put({"releaseId": release_id, "key": f"approval#{wave}", "taskToken": task_token})

    def approval(self, release_id: str, wave: str) -> str | None:
        item = self._get(release_id, f"approval#{wave}")
        return str(item["taskToken"]) if item else None
