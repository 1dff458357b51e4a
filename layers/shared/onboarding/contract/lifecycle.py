"""Lifecycle requests (inbound) and their outcomes (outbound): offboarding, tier change, suspend, resume."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from onboarding.contract.common import (
    SIGNUP_ID_PATTERN,
    TENANT_ID_FIELD_PATTERN,
    ContractModel,
    DeploymentModel,
    RejectionErrors,
    Tier,
    WireStr,
)

OPERATION_ID_PATTERN = SIGNUP_ID_PATTERN


class Operation(StrEnum):
    OFFBOARD = "offboard"
    CHANGE_TIER = "change-tier"
    SUSPEND = "suspend"
    RESUME = "resume"


class LifecycleRequest(ContractModel):
    """Common detail of every lifecycle request: the tenant and the operation's idempotency key."""

    schema_version: Literal["1"] = "1"
    tenant_id: WireStr = Field(pattern=TENANT_ID_FIELD_PATTERN, max_length=63)
    operation_id: WireStr = Field(pattern=OPERATION_ID_PATTERN, description="Idempotency key of the operation.")


class OffboardingRequested(LifecycleRequest):
    """Detail of ``Tenant Offboarding Requested``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Offboarding Requested"


class DataPlan(StrEnum):
    """What happens to a tenant's data when a tier change moves it between placements (siloed <-> pooled)."""

    KEEP = "keep"
    MIGRATE = "migrate"
    DISCARD = "discard"


class TierChangeRequested(LifecycleRequest):
    """Detail of ``Tenant Tier Change Requested``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Tier Change Requested"

    tier: Tier
    data_plan: DataPlan | None = Field(
        default=None,
        description="Required when the new tier moves the tenant between placements (siloed <-> pooled), refused "
        "without it: keep (the old placement's data is kept), migrate (kept, and the move is recorded as needing a "
        "data migration), discard (the old placement's data may be deleted). See docs/data-retention.md.",
    )


class SuspendRequested(LifecycleRequest):
    """Detail of ``Tenant Suspend Requested``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Suspend Requested"


class ResumeRequested(LifecycleRequest):
    """Detail of ``Tenant Resume Requested``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Resume Requested"


LIFECYCLE_OPERATIONS: dict[str, tuple[Operation, type[LifecycleRequest]]] = {
    OffboardingRequested.DETAIL_TYPE: (Operation.OFFBOARD, OffboardingRequested),
    TierChangeRequested.DETAIL_TYPE: (Operation.CHANGE_TIER, TierChangeRequested),
    SuspendRequested.DETAIL_TYPE: (Operation.SUSPEND, SuspendRequested),
    ResumeRequested.DETAIL_TYPE: (Operation.RESUME, ResumeRequested),
}


class Verification(ContractModel):
    """How an operation's outcome is known: Flux reported it, or it was only committed."""

    verified: bool = Field(default=False, description="true: Flux reported it; false: committed, not verified.")
    reconciled_at: datetime | None = Field(default=None, description="When Flux reported it (when verified).")


class LifecycleOutcome(ContractModel):
    schema_version: Literal["1"] = "1"
    tenant_id: str
    signup_id: str | None = None
    operation_id: str


class TenantOffboarded(LifecycleOutcome, Verification):
    """Detail of ``Tenant Offboarded``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Offboarded"

    git_commit: str
    name_released_at: datetime
    data_retained_until: datetime | None = Field(
        default=None,
        description="Until when the tenant's data is kept (offboardedAt + DataRetentionDays): an operator may delete "
        "it from then on, not before; nothing deletes it automatically. The record's dataRetainedUntil. Set on every "
        "Tenant Offboarded this contract version publishes; absent only from events published before it was added. "
        "See docs/data-retention.md.",
    )


class TenantTierChanged(LifecycleOutcome, Verification):
    """Detail of ``Tenant Tier Changed``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Tier Changed"

    from_tier: Tier
    to_tier: Tier
    deployment_model: DeploymentModel
    git_commit: str


class TenantSuspended(LifecycleOutcome, Verification):
    """Detail of ``Tenant Suspended``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Suspended"

    git_commit: str


class TenantResumed(LifecycleOutcome, Verification):
    """Detail of ``Tenant Resumed``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Resumed"

    git_commit: str


class OperationRejectedEvent(ContractModel):
    """Detail of ``Tenant Operation Rejected``: the request was not carried out, and nothing changed."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Operation Rejected"

    schema_version: Literal["1"] = "1"
    tenant_id: str | None = None
    operation_id: str | None = None
    operation: Operation | None = None
    errors: RejectionErrors


class OperationFailed(LifecycleOutcome):
    """Detail of ``Tenant Operation Failed``: the operation failed halfway and was compensated."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Operation Failed"

    operation: Operation
    failed_step: str
    error: str
    cause: str
    compensated: bool
