"""Configuration: pydantic settings read from the environment at invoke time, never at import.

A missing or malformed variable fails the invocation with a message naming it; nothing falls back
silently.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from onboarding.manifests import GitOpsLayout


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, env_nested_delimiter="__")


class ReconcileTimeoutSettings(_Settings):
    reconcile_timeout_seconds: int = Field(ge=10, le=86400, description="How long a change waits for Flux's verdict")


class TenantStoreSettings(_Settings):
    tenants_table: str = Field(min_length=3)
    tenant_names_table: str = Field(min_length=3)


class EventSettings(_Settings):
    event_bus_name: str = Field(min_length=1)
    status_event_source: str = Field(min_length=1)


class StepSettings(TenantStoreSettings, EventSettings):
    """RegisterTenant, ActivateTenant, RecordFailure."""


class IntakeSettings(StepSettings):
    onboarding_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    idempotency_table: str = Field(min_length=3)


class LayoutSettings(_Settings):
    gitops_layout: GitOpsLayout = GitOpsLayout()


class GitOpsSettings(LayoutSettings):
    gitops_repo_url: str = Field(pattern=r"^(https?|git|ssh)://")
    gitops_branch: str = Field(min_length=1)
    gitops_token_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret holding the HTTPS token; none for git:// or ssh://"
    )


class GitOpsBatchSettings(GitOpsSettings):
    """The batching writer (onboarding.batching): its queue table, gather window and batch bound."""

    gitops_queue_table: str = Field(min_length=3)
    gitops_gather_ms: int = Field(ge=0, le=10000, description="How long the oldest pending change waits for others")
    gitops_batch_max_changes: int = Field(ge=1, le=1000, description="At most this many changes per commit")


class CommitGitOpsSettings(GitOpsBatchSettings, ReconcileTimeoutSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")


class UpdateGitOpsSettings(GitOpsBatchSettings, ReconcileTimeoutSettings):
    pass


class CompensateSettings(TenantStoreSettings, GitOpsSettings):
    pass


class LifecycleIntakeSettings(EventSettings):
    lifecycle_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")


class CompleteOperationSettings(StepSettings):
    name_release_after_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's name stays reserved")
    data_retention_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's data is kept")


class ClusterSettings(_Settings):
    cluster_cidrs: list[IPv4Network] = Field(description="The cluster's own VPC, pod and service ranges (JSON list)")


class SignupIntakeSettings(IntakeSettings, ClusterSettings):
    name_release_after_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's name stays reserved")


class HybridSettings(_Settings):
    hybrid_nodes_role: str = Field(min_length=1, description="IAM role the hybrid nodes assume (EKS Hybrid Nodes role)")
    activation_expiry_days: int = Field(ge=1, le=30)
    tenant_secret_prefix: str = Field(min_length=1)
    handover_bucket: str = Field(min_length=3)
    cluster_name: str = Field(min_length=1)
    aws_region: str = Field(min_length=1)


class CreateHybridActivationSettings(HybridSettings, LayoutSettings):
    pass


class NetworkClaimsSettings(_Settings):
    network_claims_table: str = Field(min_length=3)


class RegisterSettings(StepSettings, NetworkClaimsSettings):
    pass


class HybridCompensateSettings(CompensateSettings, HybridSettings, NetworkClaimsSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")


class ReleaseHybridSettings(TenantStoreSettings, HybridSettings, NetworkClaimsSettings):
    pass


class RemoteSettings(_Settings):
    provider_pipeline_role_arns: str = Field(min_length=1, description="Roles the tenant bootstrap must trust")


class EnsureRegistrySettings(RemoteSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
    artifact_build_timeout_seconds: int = Field(ge=5, le=28800)


class StartBuildSettings(_Settings):
    artifact_build_project: str = Field(min_length=2)
    pending_builds_table: str = Field(min_length=3)


class BuildCallbackSettings(_Settings):
    pending_builds_table: str = Field(min_length=3)


class RetentionSettings(_Settings):
    remote_repository_retention: Literal["retain", "delete"]


class RevertSettings(GitOpsSettings, TenantStoreSettings):
    pass


class ReconcileSettings(_Settings):
    reconcile_table: str = Field(min_length=3)
    reconcile_feedback: Literal["flux", "none"] = Field(description="flux: wait for Flux's verdict; none: do not")


class FluxReceiverSettings(TenantStoreSettings, ReconcileSettings):
    flux_receiver_token_secret: str = Field(min_length=1, description="Secrets Manager secret of the master token")


class SbtAnswerSettings(EventSettings):
    """SbtAnswer: the links of SBT's requests, and the source of the answers per vocabulary."""

    sbt_registrations_table: str = Field(min_length=3)
    sbt_application_plane_source: str = Field(min_length=1, description="Source of answers in v0.9's names")
    sbt_legacy_application_plane_source: str = Field(min_length=1, description="Source of answers in earlier names")


class SbtIntakeSettings(SbtAnswerSettings):
    """SbtIntake: which of SBT's vocabularies are accepted, and where its requests are put back as ours."""

    sbt_vocabulary: Literal["both", "v09", "legacy"] = Field(description="SBT's names accepted: both, v09, legacy")
    signup_event_source: str = Field(min_length=1, description="Source of our own signup and lifecycle requests")


class ReleaseSettings(StepSettings, GitOpsSettings, ReconcileTimeoutSettings):
    """Every function of the release state machine (one environment for all of them)."""

    releases_table: str = Field(min_length=3)
    reconcile_table: str = Field(min_length=3)
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
    release_poll_seconds: int = Field(ge=1, le=3600, description="How often a wave's verdicts are tallied")
    approval_timeout_seconds: int = Field(ge=5, le=31536000, description="How long an approval is waited for")


class ReleaseCopySettings(ReleaseSettings):
    """CopyWaveImages and TallyWaveImages: the copy build of onboarding, run for a release's remote tenants."""

    artifact_build_project: str = Field(min_length=2)
    artifact_build_timeout_seconds: int = Field(ge=5, le=28800)


class ReleaseIntakeSettings(EventSettings):
    releases_table: str = Field(min_length=3)
    release_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
