"""Real adapters built from settings, for handlers. Heavy imports stay inside the functions that need them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onboarding.adapters.dynamodb import DynamoTenantStore
    from onboarding.adapters.events import EventBridgePublisher
    from onboarding.adapters.git import DulwichGitOpsRepository
    from onboarding.settings import EventSettings, GitOpsSettings, TenantStoreSettings


def utcnow() -> datetime:
    return datetime.now(UTC)


def tenant_store(settings: TenantStoreSettings) -> DynamoTenantStore:
    from onboarding.adapters.dynamodb import DynamoTenantStore

    return DynamoTenantStore(settings.tenants_table, settings.tenant_names_table)


def event_publisher(settings: EventSettings) -> EventBridgePublisher:
    from onboarding.adapters.events import EventBridgePublisher

    return EventBridgePublisher(settings.event_bus_name, settings.status_event_source)


def gitops_repository(settings: GitOpsSettings) -> DulwichGitOpsRepository:
    from onboarding.adapters.git import DulwichGitOpsRepository
    from onboarding.adapters.secrets import read_secret

    token = read_secret(settings.gitops_token_secret_arn) if settings.gitops_token_secret_arn else None
    return DulwichGitOpsRepository(settings.gitops_repo_url, settings.gitops_branch, token=token)


def execution_starter(state_machine_arn: str):  # type: ignore[no-untyped-def]
    from onboarding.adapters.stepfunctions import StepFunctionsStarter

    return StepFunctionsStarter(state_machine_arn)
