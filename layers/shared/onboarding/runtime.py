"""Real adapters built from settings, for handlers. Heavy imports stay inside the functions that need them."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from onboarding.adapters.codebuild import CodeBuildArtifactBuilds
    from onboarding.adapters.dynamodb import DynamoPendingBuilds, DynamoReconcileStore, DynamoTenantStore
    from onboarding.adapters.dynamodb.releases import DynamoReleaseStore
    from onboarding.adapters.dynamodb.sbt_links import DynamoSbtLinks
    from onboarding.adapters.ecr import EcrTenantRegistry
    from onboarding.adapters.events import EventBridgePublisher
    from onboarding.adapters.git import DulwichGitOpsRepository
    from onboarding.adapters.oci import OciRegistry
    from onboarding.adapters.s3 import S3DocumentStore
    from onboarding.adapters.secrets import SecretsManagerStore
    from onboarding.adapters.ssm import SsmHybridActivations, SsmReleaseParameter
    from onboarding.adapters.stepfunctions import StepFunctionsCallbacks, StepFunctionsStarter
    from onboarding.adapters.sts import StsTenantAccounts
    from onboarding.batching import GroupCommitWriter
    from onboarding.records import Release
    from onboarding.settings import EventSettings, GitOpsSettings, TenantStoreSettings
    from onboarding.settings.gitops import GitOpsBatchSettings
    from onboarding.settings.hybrid import HybridSettings

DEADLINE_MARGIN_SECONDS = 5.0  # a waiting GitOps writer gives up this long before its invocation times out


def utcnow() -> datetime:
    return datetime.now(UTC)


def tenant_store(settings: TenantStoreSettings, network_table: str | None = None) -> DynamoTenantStore:
    from onboarding.adapters.dynamodb import DynamoTenantStore

    return DynamoTenantStore(
        settings.tenants_table, settings.tenant_names_table, client=client("dynamodb"), network_table=network_table
    )


@lru_cache(maxsize=32)
def _cached_client(service: str, endpoint: str | None, region: str | None) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=region)  # type: ignore[call-overload]


def client(service: str) -> Any:
    """A boto3 client reused across warm invocations (keyed by endpoint and region, read per call)."""
    return _cached_client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"))


def hybrid_adapters(settings: HybridSettings) -> tuple[SsmHybridActivations, SecretsManagerStore, S3DocumentStore]:
    from onboarding.adapters.s3 import S3DocumentStore
    from onboarding.adapters.secrets import SecretsManagerStore
    from onboarding.adapters.ssm import SsmHybridActivations

    return (
        SsmHybridActivations(client("ssm")),
        SecretsManagerStore(client("secretsmanager")),
        S3DocumentStore(settings.handover_bucket, client("s3")),
    )


def event_publisher(settings: EventSettings) -> EventBridgePublisher:
    from onboarding.adapters.events import EventBridgePublisher

    return EventBridgePublisher(settings.event_bus_name, settings.status_event_source, client("events"))


def sbt_links(table: str) -> DynamoSbtLinks:
    from onboarding.adapters.dynamodb.sbt_links import DynamoSbtLinks

    return DynamoSbtLinks(table, client("dynamodb"))


def gitops_repository(settings: GitOpsSettings) -> DulwichGitOpsRepository:
    from onboarding.adapters.git import DulwichGitOpsRepository
    from onboarding.adapters.secrets import read_secret

    token = (
        read_secret(settings.gitops_token_secret_arn, client("secretsmanager"))
        if settings.gitops_token_secret_arn
        else None
    )
    return DulwichGitOpsRepository(settings.gitops_repo_url, settings.gitops_branch, token=token)


def pause(seconds: float) -> None:
    """Wait inside an invocation. The local stack replaces it, so that other invocations run meanwhile, as
    concurrent Lambda sandboxes do on AWS."""
    time.sleep(seconds)


def gitops_writer(settings: GitOpsBatchSettings, remaining_ms: int) -> GroupCommitWriter:
    """The batching GitOps writer (group commit through the GitOpsQueueTable), bound to the invocation's deadline."""
    from onboarding.adapters.dynamodb.gitops_queue import DynamoGitOpsQueue
    from onboarding.batching import BatchPolicy, GroupCommitWriter

    policy = BatchPolicy(gather_seconds=settings.gitops_gather_ms / 1000, max_changes=settings.gitops_batch_max_changes)
    return GroupCommitWriter(
        DynamoGitOpsQueue(settings.gitops_queue_table, client("dynamodb")),
        gitops_repository(settings),
        policy,
        pause=lambda seconds: pause(seconds),  # looked up at each call: the local stack may have replaced it
        deadline=time.time() + max(0.0, remaining_ms / 1000 - DEADLINE_MARGIN_SECONDS),
    )


def execution_starter(state_machine_arn: str) -> StepFunctionsStarter:
    from onboarding.adapters.stepfunctions import StepFunctionsStarter

    return StepFunctionsStarter(state_machine_arn, client("stepfunctions"))


@lru_cache(maxsize=8)
def _idempotency_store(table: str, endpoint: str | None) -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb"))


def idempotency_store(table: str) -> DynamoDBPersistenceLayer:
    """Powertools' DynamoDB persistence layer, built once per table (and endpoint) per sandbox, on the sandbox's
    shared DynamoDB client: without one, Powertools makes its own boto3 session and client, which costs the first
    invocation a second client's construction and keeps a second connection pool."""
    return _idempotency_store(table, os.environ.get("AWS_ENDPOINT_URL"))


def remote_accounts() -> StsTenantAccounts:
    from onboarding.adapters.sts import StsTenantAccounts

    return StsTenantAccounts(client("sts"))


def tenant_registry(credentials: Mapping[str, str], region: str) -> EcrTenantRegistry:
    from onboarding.adapters.ecr import EcrTenantRegistry

    return EcrTenantRegistry(credentials, region)


def release(parameter: str) -> Release:
    from onboarding.adapters.ssm import read_release

    return read_release(parameter, client("ssm"))


def artifact_builds() -> CodeBuildArtifactBuilds:
    from onboarding.adapters.codebuild import CodeBuildArtifactBuilds

    return CodeBuildArtifactBuilds(client("codebuild"))


def build_results() -> CodeBuildArtifactBuilds:
    """The same CodeBuild adapter, for the functions that only read builds (BatchGetBuilds)."""
    return artifact_builds()


def pending_builds(table: str) -> DynamoPendingBuilds:
    from onboarding.adapters.dynamodb import DynamoPendingBuilds

    return DynamoPendingBuilds(table, client("dynamodb"))


def task_callbacks() -> StepFunctionsCallbacks:
    from onboarding.adapters.stepfunctions import StepFunctionsCallbacks

    return StepFunctionsCallbacks(client("stepfunctions"))


def reconcile_store(table: str) -> DynamoReconcileStore:
    from onboarding.adapters.dynamodb import DynamoReconcileStore

    return DynamoReconcileStore(table, client("dynamodb"))


def secret_value(secret_id: str) -> str:
    from onboarding.adapters.secrets import read_secret

    return read_secret(secret_id, client("secretsmanager"))


def tenant_artifacts(account: str, region: str, tenant_id: str) -> OciRegistry:
    """The remote tenant's own ECR, through its onboarding role (the manifests artifact is pushed there)."""
    from onboarding.adapters.oci import OciRegistry
    from onboarding.remote import role_arn

    credentials = remote_accounts().assume(role_arn(account, tenant_id), tenant_id, f"deliver-{tenant_id}"[:64])
    return OciRegistry.ecr(f"{account}.dkr.ecr.{region}.amazonaws.com", credentials, region)


def deployed_tenant_store(stack: str, region: str | None) -> DynamoTenantStore | None:
    """The tenant store of a deployed stack, found by its TenantsTableName output (None without one)."""
    import boto3

    from onboarding.adapters.cloudformation import stack_outputs
    from onboarding.adapters.dynamodb import DynamoTenantStore

    session = boto3.session.Session(region_name=region)
    table = stack_outputs(stack, session.client("cloudformation")).get("TenantsTableName")
    return DynamoTenantStore(table, "", client=session.client("dynamodb")) if table else None


def release_store(table: str) -> DynamoReleaseStore:
    from onboarding.adapters.dynamodb.releases import DynamoReleaseStore

    return DynamoReleaseStore(table, client("dynamodb"))


def release_parameter(parameter: str) -> SsmReleaseParameter:
    from onboarding.adapters.ssm import SsmReleaseParameter

    return SsmReleaseParameter(parameter, client("ssm"))


def chart_catalog(registry: str, region: str) -> OciRegistry:
    """The provider's chart registry (charts/<chart> beside the release's images), with the provider's identity."""
    from onboarding.adapters.oci import OciRegistry

    return OciRegistry.ecr(registry, {}, region)


def copy_chart_to_tenant(
    account: str, region: str, tenant_id: str, version: str, *, release_parameter_name: str
) -> None:
    """Copy the tenant chart at ``version`` from the provider's registry into a remote tenant's own ECR."""
    from onboarding.delivery import chart_repository

    current = release(release_parameter_name)
    source = chart_catalog(current.registry, current.region)
    source.copy_chart_to(tenant_artifacts(account, region, tenant_id), "tenant", version, chart_repository(tenant_id))
