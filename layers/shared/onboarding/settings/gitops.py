"""The GitOps writers' settings: the batching writer's queue, and the steps that commit, update, revert or remove."""

from __future__ import annotations

from pydantic import Field

from onboarding.settings import GitOpsSettings, ReconcileTimeoutSettings, TenantStoreSettings


class GitOpsBatchSettings(GitOpsSettings):
    """The batching writer (onboarding.batching): its queue table, gather window and batch bound."""

    gitops_queue_table: str = Field(min_length=3)
    gitops_gather_ms: int = Field(ge=0, le=10000, description="How long the oldest pending change waits for others")
    gitops_batch_max_changes: int = Field(ge=1, le=1000, description="At most this many changes per commit")


class CommitGitOpsSettings(GitOpsBatchSettings, ReconcileTimeoutSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")


class UpdateGitOpsSettings(GitOpsBatchSettings, ReconcileTimeoutSettings):
    pass


class RevertSettings(GitOpsSettings, TenantStoreSettings):
    pass
