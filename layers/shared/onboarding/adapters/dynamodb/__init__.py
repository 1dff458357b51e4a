"""DynamoDB: the tenant store (records, name and network claims, lifecycle locks) and pending builds."""

from onboarding.adapters.dynamodb.builds import DynamoPendingBuilds
from onboarding.adapters.dynamodb.reconcile import DynamoReconcileStore
from onboarding.adapters.dynamodb.store import DynamoTenantStore

__all__ = ["DynamoPendingBuilds", "DynamoReconcileStore", "DynamoTenantStore"]
