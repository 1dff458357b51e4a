"""What every contract model shares: the base model, tiers, deployment models and field errors."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict

from onboarding.base import CamelModel

SIGNUP_ID_PATTERN = r"^[\x21-\x7e]{1,128}$"
TENANT_ID_FIELD_PATTERN = r"^t-[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


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


class ContractModel(CamelModel):
    """camelCase on the wire, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldError(ContractModel):
    field: str
    message: str
