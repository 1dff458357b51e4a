"""Pydantic models: the versioned event contract, the tenant record and the step payloads.

The JSON Schema files under ``schemas/v1`` are generated from the contract models here
(``make schemas``); a contract test fails when the two drift.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

TENANT_NAME_MAX = 100
SIGNUP_ID_PATTERN = r"^[\x21-\x7e]{1,128}$"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$"


PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


class Tier(StrEnum):
    BASIC = "basic"
    PREMIUM = "premium"
    ADVANCED = "advanced"


class DeploymentModel(StrEnum):
    POOLED = "pooled"
    SILOED = "siloed"
    REMOTE = "remote"
    HYBRID = "hybrid"


DEFAULT_MODEL_BY_TIER = {
    Tier.BASIC: DeploymentModel.POOLED,
    Tier.PREMIUM: DeploymentModel.SILOED,
    Tier.ADVANCED: DeploymentModel.SILOED,
}


class TenantStatus(StrEnum):
    ONBOARDING = "ONBOARDING"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    SUSPENDED = "SUSPENDED"
    OFFBOARDED = "OFFBOARDED"


class ContractModel(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---------------------------------------------------------------- inbound: Tenant Signup Requested
class HybridSpec(ContractModel):
    """What a hybrid (EKS Hybrid Nodes) signup carries. Provisioning comes in its own issue."""

    node_cidrs: list[ipaddress.IPv4Network] = Field(min_length=1, max_length=16)
    pod_cidrs: list[ipaddress.IPv4Network] = Field(min_length=1, max_length=16)
    node_count: int = Field(ge=1, le=100)
    supporting_services: Literal["bundled", "customer"]
    database_endpoint: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$")
    database_secret_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$"
    )

    @field_validator("node_cidrs", "pod_cidrs")
    @classmethod
    def _private(cls, cidrs: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        for cidr in cidrs:
            if not any(cidr.subnet_of(allowed) for allowed in PRIVATE_RANGES):
                raise ValueError(f"{cidr} is not a private range (RFC 1918 or RFC 6598)")
        return cidrs

    @model_validator(mode="after")
    def _consistent(self) -> HybridSpec:
        cidrs = [*self.node_cidrs, *self.pod_cidrs]
        for i, a in enumerate(cidrs):
            for b in cidrs[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"CIDRs {a} and {b} overlap")
        if self.supporting_services == "customer" and not (self.database_endpoint and self.database_secret_arn):
            raise ValueError("supportingServices 'customer' requires databaseEndpoint and databaseSecretArn")
        if self.supporting_services == "bundled" and (self.database_endpoint or self.database_secret_arn):
            raise ValueError(
                "databaseEndpoint and databaseSecretArn are only allowed with supportingServices 'customer'"
            )
        return self


class SignupRequested(ContractModel):
    """Detail of ``Tenant Signup Requested`` (contract version 1)."""

    schema_version: Literal["1"] = "1"
    signup_id: str = Field(pattern=SIGNUP_ID_PATTERN, description="Idempotency key of the signup.")
    tenant_name: str = Field(min_length=1, max_length=TENANT_NAME_MAX, description="Display name, any Unicode.")
    admin_email: EmailStr
    tier: Tier
    deployment_model: DeploymentModel | None = Field(
        default=None,
        validate_default=True,
        description="Defaults by tier: basic is pooled, premium and advanced are siloed.",
    )
    aws_account_id: str | None = Field(
        default=None, validate_default=True, pattern=ACCOUNT_ID_PATTERN, description="Remote only: 12 digits."
    )
    region: str | None = Field(default=None, validate_default=True, pattern=REGION_PATTERN, description="Remote only.")
    hybrid: HybridSpec | None = Field(default=None, validate_default=True, description="Hybrid only.")

    @field_validator("tenant_name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        value = unicodedata.normalize("NFC", value).strip()
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
            raise ValueError("must not contain control, format or unassigned characters")
        if not any(ch.isalnum() for ch in value):
            raise ValueError("must contain at least one letter or digit")
        return re.sub(r"\s+", " ", value)

    @field_validator("deployment_model")
    @classmethod
    def _default_model(cls, value: DeploymentModel | None, info: ValidationInfo) -> DeploymentModel | None:
        tier = info.data.get("tier")
        return value if value is not None or tier is None else DEFAULT_MODEL_BY_TIER[tier]

    # Cross-field rules are field validators (fields validate in order), so each error names its field.
    @field_validator("aws_account_id", "region")
    @classmethod
    def _remote_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        model = info.data.get("deployment_model")
        if model is DeploymentModel.REMOTE and value is None:
            raise ValueError(f"{to_camel(info.field_name or '')} is required for deploymentModel 'remote'")
        if model is not None and model is not DeploymentModel.REMOTE and value is not None:
            raise ValueError("only allowed for deploymentModel 'remote'")
        return value

    @field_validator("hybrid")
    @classmethod
    def _hybrid_only(cls, value: HybridSpec | None, info: ValidationInfo) -> HybridSpec | None:
        model = info.data.get("deployment_model")
        if model is DeploymentModel.HYBRID and value is None:
            raise ValueError("hybrid is required for deploymentModel 'hybrid'")
        if model is not None and model is not DeploymentModel.HYBRID and value is not None:
            raise ValueError("only allowed for deploymentModel 'hybrid'")
        return value

    @property
    def model(self) -> DeploymentModel:
        assert self.deployment_model is not None  # set by the validator
        return self.deployment_model


# ---------------------------------------------------------------- outbound (source saas.onboarding)
class FieldError(ContractModel):
    field: str
    message: str


class SignupRejected(ContractModel):
    """Detail of ``Tenant Signup Rejected``."""

    schema_version: Literal["1"] = "1"
    signup_id: str | None = None
    tenant_id: str | None = None
    errors: list[FieldError] = Field(min_length=1)


class OnboardingStarted(ContractModel):
    """Detail of ``Tenant Onboarding Started``."""

    schema_version: Literal["1"] = "1"
    tenant_id: str
    signup_id: str
    tenant_name: str
    tier: Tier
    deployment_model: DeploymentModel
    execution: str
    attempt: int


class TenantOnboarded(ContractModel):
    """Detail of ``Tenant Onboarded``."""

    schema_version: Literal["1"] = "1"
    tenant_id: str
    signup_id: str
    tier: Tier
    deployment_model: DeploymentModel
    git_commit: str


class OnboardingFailed(ContractModel):
    """Detail of ``Tenant Onboarding Failed``."""

    schema_version: Literal["1"] = "1"
    tenant_id: str
    signup_id: str
    failed_step: str
    error: str
    cause: str
    compensated: bool


# ---------------------------------------------------------------- lifecycle (after onboarding)
OPERATION_ID_PATTERN = SIGNUP_ID_PATTERN
TENANT_ID_FIELD_PATTERN = r"^t-[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class Operation(StrEnum):
    OFFBOARD = "offboard"
    CHANGE_TIER = "change-tier"
    SUSPEND = "suspend"
    RESUME = "resume"


class LifecycleRequest(ContractModel):
    """Common detail of every lifecycle request: the tenant and the operation's idempotency key."""

    schema_version: Literal["1"] = "1"
    tenant_id: str = Field(pattern=TENANT_ID_FIELD_PATTERN, max_length=63)
    operation_id: str = Field(pattern=OPERATION_ID_PATTERN, description="Idempotency key of the operation.")


class OffboardingRequested(LifecycleRequest):
    """Detail of ``Tenant Offboarding Requested``."""


class TierChangeRequested(LifecycleRequest):
    """Detail of ``Tenant Tier Change Requested``."""

    tier: Tier


class SuspendRequested(LifecycleRequest):
    """Detail of ``Tenant Suspend Requested``."""


class ResumeRequested(LifecycleRequest):
    """Detail of ``Tenant Resume Requested``."""


LIFECYCLE_OPERATIONS: dict[str, tuple[Operation, type[LifecycleRequest]]] = {
    "Tenant Offboarding Requested": (Operation.OFFBOARD, OffboardingRequested),
    "Tenant Tier Change Requested": (Operation.CHANGE_TIER, TierChangeRequested),
    "Tenant Suspend Requested": (Operation.SUSPEND, SuspendRequested),
    "Tenant Resume Requested": (Operation.RESUME, ResumeRequested),
}


class LifecycleOutcome(ContractModel):
    schema_version: Literal["1"] = "1"
    tenant_id: str
    signup_id: str | None = None
    operation_id: str


class TenantOffboarded(LifecycleOutcome):
    """Detail of ``Tenant Offboarded``."""

    git_commit: str
    name_released_at: datetime


class TenantTierChanged(LifecycleOutcome):
    """Detail of ``Tenant Tier Changed``."""

    from_tier: Tier
    to_tier: Tier
    deployment_model: DeploymentModel
    git_commit: str


class TenantSuspended(LifecycleOutcome):
    """Detail of ``Tenant Suspended``."""

    git_commit: str


class TenantResumed(LifecycleOutcome):
    """Detail of ``Tenant Resumed``."""

    git_commit: str


class OperationRejectedEvent(ContractModel):
    """Detail of ``Tenant Operation Rejected``: the request was not carried out, and nothing changed."""

    schema_version: Literal["1"] = "1"
    tenant_id: str | None = None
    operation_id: str | None = None
    operation: Operation | None = None
    errors: list[FieldError] = Field(min_length=1)


class OperationFailed(LifecycleOutcome):
    """Detail of ``Tenant Operation Failed``: the operation failed halfway and was compensated."""

    operation: Operation
    failed_step: str
    error: str
    cause: str
    compensated: bool


OUTBOUND_DETAIL_TYPES: dict[type[ContractModel], str] = {
    SignupRejected: "Tenant Signup Rejected",
    OnboardingStarted: "Tenant Onboarding Started",
    TenantOnboarded: "Tenant Onboarded",
    OnboardingFailed: "Tenant Onboarding Failed",
    TenantOffboarded: "Tenant Offboarded",
    TenantTierChanged: "Tenant Tier Changed",
    TenantSuspended: "Tenant Suspended",
    TenantResumed: "Tenant Resumed",
    OperationRejectedEvent: "Tenant Operation Rejected",
    OperationFailed: "Tenant Operation Failed",
}
INBOUND_DETAIL_TYPES: dict[type[ContractModel], str] = {
    SignupRequested: "Tenant Signup Requested",
    **{model: detail_type for detail_type, (_, model) in LIFECYCLE_OPERATIONS.items()},
}


# ---------------------------------------------------------------- tenant record (DynamoDB)
class OperationLock(BaseModel):
    """The per-tenant lock a lifecycle operation holds while it runs."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    operation: str
    operation_id: str
    execution: str
    at: datetime
    expires_at: datetime | None = Field(
        default=None, description="A lease: past it, a new operation may take the lock over (a stopped execution)"
    )


class TenantSpec(BaseModel):
    """What the GitOps configuration of a tenant is rendered from."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    tenant_id: str
    tenant_name: str
    tier: Tier
    deployment_model: DeploymentModel
    suspended: bool = False
    hybrid: HybridSpec | None = None
    images: tuple[ImageRef, ...] = ()
    release_version: str | None = None

    @classmethod
    def of_signup(cls, tenant_id: str, signup: SignupRequested) -> TenantSpec:
        return cls(
            tenant_id=tenant_id,
            tenant_name=signup.tenant_name,
            tier=signup.tier,
            deployment_model=signup.model,
            hybrid=signup.hybrid,
        )


class ImageRef(BaseModel):
    """An image in a tenant's registry, pinned by digest."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    name: str
    repository: str  # <account>.dkr.ecr.<region>.amazonaws.com/<tenantId>/<name>
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class ReleaseImage(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    repository: str = Field(min_length=3)  # in the provider's release registry
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class Release(BaseModel):
    """The release every remote tenant gets: configuration (an SSM parameter), not code."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    version: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$")
    registry: str = Field(min_length=3)
    region: str
    images: list[ReleaseImage] = Field(min_length=1)


class HybridResources(BaseModel):
    """What CreateHybridActivation made. The activation id and code live only in the secret."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    activation_secret_arn: str
    handover_uri: str


class HistoryEntry(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    at: datetime
    operation: str
    execution: str
    outcome: str
    detail: str | None = None


class TenantRecord(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    tenant_id: str
    signup_id: str
    tenant_name: str
    name_key: str
    admin_email: str
    tier: Tier
    deployment_model: DeploymentModel
    status: TenantStatus
    execution: str
    attempts: int = 1
    version: int = 1
    failed_step: str | None = None
    failure_reason: str | None = None
    git_commit: str | None = None
    hybrid: HybridSpec | None = None
    hybrid_resources: HybridResources | None = None
    aws_account_id: str | None = None
    region: str | None = None
    images: list[ImageRef] | None = None
    release_version: str | None = None
    lock: OperationLock | None = None
    offboarded_at: datetime | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    @property
    def spec(self) -> TenantSpec:
        return TenantSpec(
            tenant_id=self.tenant_id,
            tenant_name=self.tenant_name,
            tier=self.tier,
            deployment_model=self.deployment_model,
            suspended=self.status is TenantStatus.SUSPENDED,
            hybrid=self.hybrid,
            images=tuple(self.images or ()),
            release_version=self.release_version,
        )

    def item(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---------------------------------------------------------------- step payloads (state machine)
class StepModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class OnboardingRequest(StepModel):
    """The execution input the intake starts the onboarding state machine with."""

    tenant_id: str
    attempt: int = Field(ge=1)
    execution: str = Field(description="The execution's own name, so every step can condition on it.")
    signup: SignupRequested


class RegistryRepository(StepModel):
    name: str
    uri: str
    created: bool


class TenantRegistry(StepModel):
    """EnsureTenantRegistry's result: the tenant's repositories and the release to copy into them."""

    role_arn: str
    account: str
    region: str
    repositories: list[RegistryRepository]
    release: Release
    build_timeout_seconds: int


class Artifacts(StepModel):
    """What the artifact build pushed: each image's digest in the tenant's registry."""

    digests: dict[str, str]
    build_id: str


class StepInput(OnboardingRequest):
    """What every onboarding step receives: the execution state (extra keys ignored)."""

    registry: TenantRegistry | None = None
    artifacts: Artifacts | None = None

    @property
    def images(self) -> list[ImageRef] | None:
        """The pushed images, pinned by digest to their repositories in the tenant's registry."""
        if self.artifacts is None or self.registry is None:
            return None
        uris = {repo.name.rsplit("/", 1)[-1]: repo.uri for repo in self.registry.repositories}
        return [
            ImageRef(name=name, repository=uris[name], digest=digest)
            for name, digest in sorted(self.artifacts.digests.items())
        ]

    @property
    def spec(self) -> TenantSpec:
        spec = TenantSpec.of_signup(self.tenant_id, self.signup)
        images = self.images
        if images is not None and self.registry is not None:
            spec = spec.model_copy(update={"images": tuple(images), "release_version": self.registry.release.version})
        return spec


class Registration(StepModel):
    created: bool
    name_claimed: bool
    previous_status: TenantStatus | None = None


class GitOpsChange(StepModel):
    commit: str
    changed: bool
    paths: list[str]


class ActivateInput(StepInput):
    gitops: GitOpsChange
    hybrid_resources: HybridResources | None = None


class StepError(StepModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")

    @field_validator("cause", mode="before")
    @classmethod
    def _no_cause(cls, value: object) -> object:
        return "" if value is None else value  # Step Functions may report a null Cause


class CompensateInput(StepInput):
    failed_step: str
    error: StepError
    registration: Registration | None = None
    hybrid_resources: HybridResources | None = None
    gitops: GitOpsChange | None = None


class Compensation(StepModel):
    compensated: bool
    actions: list[str]


class RecordFailureInput(StepInput):
    failed_step: str
    error: StepError
    compensation: Compensation | None = None


# ---------------------------------------------------------------- lifecycle step payloads
class LifecycleRequestInput(StepModel):
    """The execution input the lifecycle intake starts the lifecycle state machine with."""

    tenant_id: str
    operation: Operation
    operation_id: str
    execution: str
    to_tier: Tier | None = None


class OperationPlan(StepModel):
    """What StartOperation decided: the tenant before, and after (None when offboarded)."""

    operation: Operation
    signup_id: str
    from_status: TenantStatus
    to_status: TenantStatus
    before: TenantSpec
    after: TenantSpec | None
    aws_account_id: str | None = None  # remote tenants: where their registry lives
    region: str | None = None


class LifecycleStepInput(LifecycleRequestInput):
    plan: OperationPlan


class CompleteOperationInput(LifecycleStepInput):
    gitops: GitOpsChange


class LifecycleRejectInput(LifecycleRequestInput):
    error: StepError


class LifecycleFailureInput(LifecycleRequestInput):
    failed_step: str
    error: StepError
    plan: OperationPlan | None = None
    gitops: GitOpsChange | None = None
    compensation: Compensation | None = None
