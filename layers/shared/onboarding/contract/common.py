"""What every contract model shares: the base model, wire parsing, strict wire types, tiers, deployment models
and field errors."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, ConfigDict, Field, Strict

from onboarding.base import CamelModel

SIGNUP_ID_PATTERN = r"^[\x21-\x7e]{1,128}$"
TENANT_ID_FIELD_PATTERN = r"^t-[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
MAX_REJECTION_ERRORS = 100  # a rejection names at most this many violations, then counts the rest


def _stored_integer(value: Any) -> Any:
    """An integral ``Decimal`` as its ``int``: DynamoDB gives a stored record's numbers back as Decimal.

    JSON never carries a Decimal, so on the wire an integer field still takes a JSON integer only.
    """
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


# Strict as the published JSON Schema says: a string is a JSON string, an integer a JSON integer (not
# ``true``, ``"07"`` or ``3.0``). Enums stay lax so they take their string values.
WireStr = Annotated[str, Strict()]
WireInt = Annotated[int, Strict(), BeforeValidator(_stored_integer)]


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
    """camelCase on the wire, snake_case in Python, unknown fields rejected.

    Python code builds models by field name (``SignupRejected(signup_id=...)``); an inbound event detail is
    parsed with :meth:`from_wire` only, which takes the camelCase keys alone, so ``tenant_name`` on the wire
    is an unknown field like any other.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    # The EventBridge detail-type of a model that travels as an event's whole detail, set on each of them
    # (onboarding.contract.catalog lists them all). A part of a detail, such as FieldError, has none.
    DETAIL_TYPE: ClassVar[str]

    @classmethod
    def from_wire(cls, detail: Any) -> Self:
        """The one parser of inbound event details: camelCase keys only, types as the JSON Schema says."""
        return cls.model_validate(detail, by_alias=True, by_name=False)


class FieldError(ContractModel):
    field: str = Field(description="Where the violation is, as on the wire: hybrid.nodeCidrs.1 (detail: the whole).")
    message: str


# What a rejection carries: bounded, so the event stays far below EventBridge's 256 KB (onboarding.validation).
RejectionErrors = Annotated[
    list[FieldError],
    Field(
        min_length=1,
        max_length=MAX_REJECTION_ERRORS + 1,
        description=f"Every violation at its own path; past the first {MAX_REJECTION_ERRORS}, one last error "
        "(field detail) counts the rest.",
    ),
]
