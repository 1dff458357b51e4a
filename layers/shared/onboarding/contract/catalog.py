"""Every event detail of the contract, by direction: what the schema generator writes (``make schemas``).

A function imports the contract module it speaks (``contract.signup``, ``contract.lifecycle``,
``contract.release``, ``contract.sbt``), never this catalog, so a cold start builds only its own models.
"""

from onboarding.contract.common import ContractModel
from onboarding.contract.lifecycle import (
    LIFECYCLE_OPERATIONS,
    OperationFailed,
    OperationRejectedEvent,
    TenantOffboarded,
    TenantResumed,
    TenantSuspended,
    TenantTierChanged,
)
from onboarding.contract.release import RELEASE_OUTCOMES, RELEASE_REQUESTS
from onboarding.contract.signup import (
    OnboardingFailed,
    OnboardingStarted,
    SignupRejected,
    SignupRequested,
    TenantOnboarded,
)

OUTBOUND_DETAIL_TYPES: dict[type[ContractModel], str] = {
    **{
        model: model.DETAIL_TYPE
        for model in (
            SignupRejected,
            OnboardingStarted,
            TenantOnboarded,
            OnboardingFailed,
            TenantOffboarded,
            TenantTierChanged,
            TenantSuspended,
            TenantResumed,
            OperationRejectedEvent,
            OperationFailed,
        )
    },
    **RELEASE_OUTCOMES,
}
INBOUND_DETAIL_TYPES: dict[type[ContractModel], str] = {
    SignupRequested: SignupRequested.DETAIL_TYPE,
    **{model: detail_type for detail_type, (_, model) in LIFECYCLE_OPERATIONS.items()},
    **{model: detail_type for detail_type, model in RELEASE_REQUESTS.items()},
}
