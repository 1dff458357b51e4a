"""Claims that make tenants unique: display names, and the CIDRs hybrid tenants hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from ipaddress import IPv4Network
from typing import Any

from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.adapters.dynamodb.cidr_cells import (
    CELL_PREFIX,
    LEGACY_SCOPE,
    TENANT_PREFIX,
    cells_of,
    children_inside,
    claim_updates,
    home_level,
    overlapping,
    parse_cell,
    release_updates,
)
from onboarding.adapters.dynamodb.codec import (
    CONDITION_FAILED,
    CONTENTION,
    TenantTables,
    cancellation_reasons,
    from_item,
    to_item,
)
from onboarding.cidrs import CidrClaim, CidrRegistry
from onboarding.errors import CidrConflict, StorageError, TransientError

MAX_CELLS = 96  # TransactWriteItems takes 100 items: the tenant, its name, its claim index and the legacy check


class ClaimsAdapter(TenantTables):
    """Name claims, and the hybrid CIDR registry laid out in cells (see ``cidr_cells``)."""

    def _network_table(self) -> str:
        if self._network is None:
            raise StorageError("NETWORK_CLAIMS_TABLE is not configured")
        return self._network

    def _cells(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The items at ``keys`` (absent ones omitted): BatchGetItem, 100 keys a call, strongly consistent."""
        table, wanted, found = self._network_table(), sorted(set(keys)), {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                table: {"Keys": [{"scope": {"S": k}} for k in wanted[start : start + 100]], "ConsistentRead": True}
            }
            for _ in range(8):
                with translated("dynamodb:BatchGetItem cidr cells"):
                    reply = self._client.batch_get_item(RequestItems=request)
                for item in reply.get("Responses", {}).get(table, []):
                    found[item["scope"]["S"]] = item
                request = reply.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise TransientError("dynamodb:BatchGetItem kept returning unprocessed cidr cells")
        return found

    def cidr_overlaps(self, claims: Sequence[CidrClaim]) -> list[CidrClaim]:
        """Every registered range that overlaps one of ``claims``: the cells above and at each range's home, then
        down the child cells whose counters say a range lies inside (only where one does)."""
        found: dict[str, CidrClaim] = {}
        items = self._cells(key for claim in claims for key in cells_of(claim.cidr))
        for claim in claims:
            pending = cells_of(claim.cidr)
            while pending:
                cells = {key: parse_cell(items[key]) for key in pending if key in items}
                below: list[str] = []
                for key, cell in cells.items():
                    found.update((str(m.cidr), m) for m in overlapping(cell.members, claim.cidr))
                    home = IPv4Network(key.removeprefix(CELL_PREFIX)).prefixlen >= home_level(claim.cidr.prefixlen)
                    if home:
                        below += children_inside(key, cell.counters, claim.cidr)
                pending = below
                if below:
                    items.update(self._cells(below))
        return list(found.values())

    def _claim_items(self, tenant_id: str, claims: Sequence[CidrClaim]) -> list[dict[str, Any]]:
        table = self._network_table()
        updates = claim_updates(claims)
        if len(updates) > MAX_CELLS:
            raise CidrConflict(
                f"the ranges need {len(updates)} registry cells and one registration writes at most {MAX_CELLS}: "
                "claim fewer or larger ranges"
            )
        index = {
            "scope": f"{TENANT_PREFIX}{tenant_id}",
            "tenantId": tenant_id,
            "claims": [c.model_dump(mode="json", by_alias=True) for c in claims],
        }
        return [
            *(update.transact_item(table) for update in updates),
            {
                "Put": {
                    "TableName": table,
                    "Item": to_item(index),
                    "ConditionExpression": "attribute_not_exists(#scope)",
                    "ExpressionAttributeNames": {"#scope": "scope"},
                }
            },
            {  # until the single legacy item is migrated into cells, no claim can be checked against it
                "ConditionCheck": {
                    "TableName": table,
                    "Key": {"scope": {"S": LEGACY_SCOPE}},
                    "ConditionExpression": "attribute_not_exists(#scope)",
                    "ExpressionAttributeNames": {"#scope": "scope"},
                }
            },
        ]

    def claims_held(self, tenant_id: str) -> list[CidrClaim]:
        with translated(f"dynamodb:GetItem cidr claims of {tenant_id}"):
            item = self._client.get_item(
                TableName=self._network_table(),
                Key={"scope": {"S": f"{TENANT_PREFIX}{tenant_id}"}},
                ConsistentRead=True,
            ).get("Item")
        return [CidrClaim.model_validate(c) for c in from_item(item)["claims"]] if item else []

    def release_cidrs(self, tenant_id: str) -> bool:
        """Remove the tenant's ranges from their cells and its claim index, in one transaction."""
        claims = self.claims_held(tenant_id)
        if not claims:
            return False
        table = self._network_table()
        items: list[dict[str, Any]] = [
            {"Delete": {"TableName": table, "Key": {"scope": {"S": f"{TENANT_PREFIX}{tenant_id}"}}}}
        ]
        for update in release_updates(claims):
            names = {f"#r{i}": a for i, a in enumerate(update["remove"])}
            names.update({f"#s{i}": a for i, a in enumerate(update["subtract"])})
            values = {f":s{i}": {"N": str(-n)} for i, n in enumerate(update["subtract"].values())}
            clauses = (
                [f"REMOVE {', '.join(f'#r{i}' for i in range(len(update['remove'])))}"] if update["remove"] else []
            )
            adds = ", ".join(f"#s{i} :s{i}" for i in range(len(update["subtract"])))
            clauses += [f"ADD {adds}"] if adds else []
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"scope": {"S": update["key"]}},
                        "UpdateExpression": " ".join(clauses),
                        "ExpressionAttributeNames": names,
                        **({"ExpressionAttributeValues": values} if values else {}),
                    }
                }
            )
        with translated(f"dynamodb:TransactWriteItems release cidrs of {tenant_id}"):
            try:
                self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except ClientError as exc:
                if error_code(exc) == "TransactionCanceledException":
                    raise TransientError(f"releasing the CIDRs of {tenant_id} lost to a concurrent write") from exc
                raise
        return True

    def migrate_legacy_cidrs(self) -> int:
        """Move the single legacy registry item into cells, one tenant a transaction, then delete it.

        Idempotent: a tenant whose claim index exists is skipped, so an interrupted run is simply run again.
        Returns how many tenants it moved."""
        table = self._network_table()
        with translated("dynamodb:GetItem legacy cidr registry"):
            item = self._client.get_item(TableName=table, Key={"scope": {"S": LEGACY_SCOPE}}, ConsistentRead=True).get(
                "Item"
            )
        if not item:
            return 0
        legacy = CidrRegistry.model_validate(
            {"version": from_item(item)["version"], "claims": from_item(item)["claims"]}
        )
        by_tenant: dict[str, list[CidrClaim]] = {}
        for claim in legacy.claims:
            by_tenant.setdefault(claim.tenant_id, []).append(claim)
        moved = 0
        for tenant_id, claims in sorted(by_tenant.items()):
            if self.claims_held(tenant_id):
                continue
            with translated(f"dynamodb:TransactWriteItems migrate cidrs of {tenant_id}"):
                self._client.transact_write_items(TransactItems=self._claim_items(tenant_id, claims)[:-1])  # type: ignore[arg-type]
            moved += 1
        with translated("dynamodb:DeleteItem legacy cidr registry"):
            try:
                self._client.delete_item(
                    TableName=table,
                    Key={"scope": {"S": LEGACY_SCOPE}},
                    ConditionExpression="version = :version",
                    ExpressionAttributeValues={":version": {"N": str(legacy.version)}},
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    raise TransientError("the legacy CIDR registry changed during the migration: run it again") from exc
                raise
        return moved

    def release_name(self, name_key: str, tenant_id: str, execution: str) -> bool:
        with translated(f"dynamodb:TransactWriteItems release name of {tenant_id}"):
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self._names,
                                "Key": {"nameKey": {"S": name_key}},
                                "ConditionExpression": "tenantId = :tenant",
                                "ExpressionAttributeValues": {":tenant": {"S": tenant_id}},
                            }
                        },
                        {
                            "ConditionCheck": {
                                "TableName": self._tenants,
                                "Key": {"tenantId": {"S": tenant_id}},
                                "ConditionExpression": "#execution = :execution",
                                "ExpressionAttributeNames": {"#execution": "execution"},
                                "ExpressionAttributeValues": {":execution": {"S": execution}},
                            }
                        },
                    ]
                )
            except ClientError as exc:
                if error_code(exc) == "TransactionCanceledException":
                    reasons = cancellation_reasons(exc)
                    if any(code in CONTENTION for code in reasons):
                        raise TransientError(f"releasing the name of {tenant_id} lost to a concurrent write") from exc
                    return False  # not ours (a condition failed): nothing to release
                raise
        return True

    def schedule_name_release(self, name_key: str, tenant_id: str, release_at: datetime) -> bool:
        with translated(f"dynamodb:UpdateItem name release {tenant_id}"):
            try:
                self._client.update_item(
                    TableName=self._names,
                    Key={"nameKey": {"S": name_key}},
                    UpdateExpression="SET releaseAt = :at, expiresAt = :epoch",
                    ConditionExpression="tenantId = :tenant",
                    ExpressionAttributeValues={
                        ":at": {"S": release_at.isoformat()},
                        ":epoch": {"N": str(int(release_at.timestamp()))},
                        ":tenant": {"S": tenant_id},
                    },
                )
            except ClientError as exc:
                if error_code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True
