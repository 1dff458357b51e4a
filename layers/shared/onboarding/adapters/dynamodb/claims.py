"""Claims that make tenants unique: display names, and the CIDRs hybrid tenants hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.adapters.dynamodb.codec import (
    CONDITION_FAILED,
    CONTENTION,
    TenantTables,
    cancellation_reasons,
    from_item,
    to_item,
)
from onboarding.cidrs import CidrClaim, CidrRegistry
from onboarding.errors import StorageError, TransientError

CIDR_SCOPE = "hybrid-cidrs"


class ClaimsAdapter(TenantTables):
    def cidr_registry(self) -> CidrRegistry:
        """All CIDRs held by hybrid tenants, with the version an update must be conditional on."""
        if self._network is None:
            raise StorageError("NETWORK_CLAIMS_TABLE is not configured")
        with translated("dynamodb:GetItem cidr registry"):
            item = self._client.get_item(
                TableName=self._network, Key={"scope": {"S": CIDR_SCOPE}}, ConsistentRead=True
            ).get("Item")
        if not item:
            return CidrRegistry(version=0, claims=[])
        plain = from_item(item)
        return CidrRegistry(
            version=int(plain["version"]), claims=[CidrClaim.model_validate(c) for c in plain["claims"]]
        )

    def _registry_put(self, registry: CidrRegistry) -> dict[str, Any]:
        claims = [c.model_dump(mode="json", by_alias=True) for c in registry.claims]
        return {
            "Put": {
                "TableName": self._network,
                "Item": to_item({"scope": CIDR_SCOPE, "version": registry.version + 1, "claims": claims}),
                "ConditionExpression": "attribute_not_exists(#scope) OR version = :version",
                "ExpressionAttributeNames": {"#scope": "scope"},
                "ExpressionAttributeValues": {":version": {"N": str(registry.version)}},
            }
        }

    def release_cidrs(self, tenant_id: str, attempts: int = 5) -> bool:
        """Remove the tenant's CIDRs from the registry (optimistic, retried on concurrent changes)."""
        for _ in range(attempts):
            registry = self.cidr_registry()
            kept = [c for c in registry.claims if c.tenant_id != tenant_id]
            if len(kept) == len(registry.claims):
                return False
            with translated(f"dynamodb:TransactWriteItems release cidrs of {tenant_id}"):
                try:
                    self._client.transact_write_items(
                        TransactItems=[self._registry_put(CidrRegistry(version=registry.version, claims=kept))]  # type: ignore[list-item]
                    )
                    return True
                except ClientError as exc:
                    if error_code(exc) != "TransactionCanceledException":
                        raise
        raise TransientError(f"the CIDR registry kept changing while releasing {tenant_id}")

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
