"""The published, versioned event contract (version 1): every inbound and outbound event detail.

This package is the only thing the schema generator reads (``make schemas`` writes ``schemas/v1``);
a contract test fails when the two drift. SBT-AWS's vocabulary (``contract.sbt``) is SBT's own contract,
spoken when the pipeline serves as SBT's application plane; it is exported here but has no schema of ours.
Records and step payloads live in ``records`` and ``payloads``.
"""

from onboarding.contract.common import (
    DEFAULT_MODEL_BY_TIER,
    MAX_REJECTION_ERRORS,
    SIGNUP_ID_PATTERN,
    TENANT_ID_FIELD_PATTERN,
    ContractModel,
    DeploymentModel,
    FieldError,
    Tier,
)
from onboarding.contract.lifecycle import (
    LIFECYCLE_OPERATIONS,
    OPERATION_ID_PATTERN,
    LifecycleOutcome,
    LifecycleRequest,
    OffboardingRequested,
    Operation,
    OperationFailed,
    OperationRejectedEvent,
    ResumeRequested,
    SuspendRequested,
    TenantOffboarded,
    TenantResumed,
    TenantSuspended,
    TenantTierChanged,
    TierChangeRequested,
)
from onboarding.contract.release import RELEASE_OUTCOMES, RELEASE_REQUESTS
from onboarding.contract.sbt import (
    SBT_ANSWERS,
    SBT_REQUESTS,
    SbtAccepted,
    SbtAction,
    SbtAnswer,
    SbtOnboardingRequest,
    SbtRequest,
    SbtVocabulary,
)
from onboarding.contract.signup import (
    ACCOUNT_ID_PATTERN,
    PRIVATE_RANGES,
    REGION_PATTERN,
    TENANT_NAME_MAX,
    HybridSpec,
    OnboardingFailed,
    OnboardingStarted,
    SignupRejected,
    SignupRequested,
    TenantOnboarded,
)

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
    **RELEASE_OUTCOMES,
}
INBOUND_DETAIL_TYPES: dict[type[ContractModel], str] = {
    SignupRequested: "Tenant Signup Requested",
    **{model: detail_type for detail_type, (_, model) in LIFECYCLE_OPERATIONS.items()},
    **{model: detail_type for detail_type, model in RELEASE_REQUESTS.items()},
}

__all__ = [
    "ACCOUNT_ID_PATTERN",
    "DEFAULT_MODEL_BY_TIER",
    "INBOUND_DETAIL_TYPES",
    "LIFECYCLE_OPERATIONS",
    "MAX_REJECTION_ERRORS",
    "OPERATION_ID_PATTERN",
    "OUTBOUND_DETAIL_TYPES",
    "PRIVATE_RANGES",
    "REGION_PATTERN",
    "SBT_ANSWERS",
    "SBT_REQUESTS",
    "SIGNUP_ID_PATTERN",
    "TENANT_ID_FIELD_PATTERN",
    "TENANT_NAME_MAX",
    "ContractModel",
    "DeploymentModel",
    "FieldError",
    "HybridSpec",
    "LifecycleOutcome",
    "LifecycleRequest",
    "OffboardingRequested",
    "OnboardingFailed",
    "OnboardingStarted",
    "Operation",
    "OperationFailed",
    "OperationRejectedEvent",
    "ResumeRequested",
    "SbtAccepted",
    "SbtAction",
    "SbtAnswer",
    "SbtOnboardingRequest",
    "SbtRequest",
    "SbtVocabulary",
    "SignupRejected",
    "SignupRequested",
    "SuspendRequested",
    "TenantOffboarded",
    "TenantOnboarded",
    "TenantResumed",
    "TenantSuspended",
    "TenantTierChanged",
    "Tier",
    "TierChangeRequested",
]
