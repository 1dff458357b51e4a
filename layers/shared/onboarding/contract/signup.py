"""Onboarding: ``Tenant Signup Requested`` (inbound) and the onboarding outcomes (outbound)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, EmailStr, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticKnownError, ValidationError

from onboarding.contract.common import (
    DEFAULT_MODEL_BY_TIER,
    SIGNUP_ID_PATTERN,
    ContractModel,
    DeploymentModel,
    RejectionErrors,
    Tier,
    WireInt,
    WireStr,
)

TENANT_NAME_MAX = 100
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$"
# The format characters real names use: ZWNJ and ZWJ (Persian, Indic scripts, emoji sequences), soft hyphen.
NAME_FORMAT_CHARACTERS = frozenset("\u200c\u200d\u00ad")


PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


def _cidr_string(value: Any) -> Any:
    """A CIDR is a JSON string on the wire (an ``IPv4Network`` when Python builds the model), never a number."""
    if isinstance(value, str | ipaddress.IPv4Network):
        return value
    raise PydanticKnownError("string_type")


def _private(cidr: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    if not any(cidr.subnet_of(allowed) for allowed in PRIVATE_RANGES):
        raise ValueError(f"{cidr} is not a private range (RFC 1918 or RFC 6598)")
    return cidr


# Each range is checked on its own, so every bad one is named at its index (hybrid.nodeCidrs.1).
PrivateCidr = Annotated[ipaddress.IPv4Network, BeforeValidator(_cidr_string), AfterValidator(_private)]


def _disjoint(
    field: str, cidrs: list[ipaddress.IPv4Network], earlier: dict[str, list[ipaddress.IPv4Network]]
) -> list[ipaddress.IPv4Network]:
    """Name, at its own index, every range of ``field`` that overlaps one before it (in ``earlier``, then its own)."""
    seen = [(f"hybrid.{name}.{i}", c) for name, ranges in earlier.items() for i, c in enumerate(ranges)]
    found = []
    for j, cidr in enumerate(cidrs):
        clash = next(((at, other) for at, other in seen if cidr.overlaps(other)), None)
        if clash is not None:
            at, other = clash
            context = {"cidr": str(cidr), "other": str(other), "at": at}
            message = PydanticCustomError("cidr_overlap", "{cidr} overlaps {other} ({at})", context)
            found.append(InitErrorDetails(type=message, loc=(j,), input=str(cidr)))
        seen.append((f"hybrid.{field}.{j}", cidr))
    if found:
        raise ValidationError.from_exception_data(field, found)  # pydantic keeps each error at its own loc
    return cidrs


class HybridSpec(ContractModel):
    """What a hybrid (EKS Hybrid Nodes) signup carries: the tenant's on-premises ranges, nodes and database."""

    node_cidrs: list[PrivateCidr] = Field(min_length=1, max_length=16, strict=True)
    pod_cidrs: list[PrivateCidr] = Field(min_length=1, max_length=16, strict=True)
    node_count: WireInt = Field(ge=1, le=100)
    supporting_services: Literal["bundled", "customer"]
    database_endpoint: WireStr | None = Field(
        default=None, validate_default=True, pattern=r"^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$"
    )
    database_secret_arn: WireStr | None = Field(
        default=None,
        validate_default=True,
        pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$",
    )

    # Cross-field rules are field validators (fields validate in order), so each error names its field.
    @field_validator("node_cidrs")
    @classmethod
    def _node_ranges_disjoint(cls, cidrs: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        return _disjoint("nodeCidrs", cidrs, {})

    @field_validator("pod_cidrs")
    @classmethod
    def _pod_ranges_disjoint(
        cls, cidrs: list[ipaddress.IPv4Network], info: ValidationInfo
    ) -> list[ipaddress.IPv4Network]:
        return _disjoint("podCidrs", cidrs, {"nodeCidrs": info.data.get("node_cidrs", [])})

    @field_validator("database_endpoint", "database_secret_arn")
    @classmethod
    def _customer_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        services = info.data.get("supporting_services")
        if services == "customer" and value is None:
            raise ValueError(f"{to_camel(info.field_name or '')} is required for supportingServices 'customer'")
        if services == "bundled" and value is not None:
            raise ValueError("only allowed with supportingServices 'customer'")
        return value


def _refused(ch: str) -> bool:
    """Control, surrogate, private-use and unassigned characters, and every format character but ZWNJ, ZWJ and
    the soft hyphen: bidi overrides and isolates (U+202A-202E, U+2066-2069), U+200B, the BOM U+FEFF."""
    category = unicodedata.category(ch)
    return category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and ch not in NAME_FORMAT_CHARACTERS)


class SignupRequested(ContractModel):
    """Detail of ``Tenant Signup Requested`` (contract version 1)."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Signup Requested"

    schema_version: Literal["1"] = "1"
    signup_id: WireStr = Field(pattern=SIGNUP_ID_PATTERN, description="Idempotency key of the signup.")
    tenant_name: WireStr = Field(min_length=1, max_length=TENANT_NAME_MAX, description="Display name, any Unicode.")
    admin_email: EmailStr
    tier: Tier
    deployment_model: DeploymentModel | None = Field(
        default=None,
        validate_default=True,
        description="Defaults by tier: basic is pooled, premium and advanced are siloed.",
    )
    aws_account_id: WireStr | None = Field(
        default=None, validate_default=True, pattern=ACCOUNT_ID_PATTERN, description="Remote only: 12 digits."
    )
    region: WireStr | None = Field(
        default=None, validate_default=True, pattern=REGION_PATTERN, description="Remote only."
    )
    hybrid: HybridSpec | None = Field(default=None, validate_default=True, description="Hybrid only.")

    @field_validator("tenant_name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        value = unicodedata.normalize("NFC", value).strip()
        if any(_refused(ch) for ch in value):
            raise ValueError(
                "must not contain control, bidi-control, invisible, private-use or unassigned characters "
                "(ZWNJ, ZWJ and the soft hyphen are allowed)"
            )
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


class SignupRejected(ContractModel):
    """Detail of ``Tenant Signup Rejected``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Signup Rejected"

    schema_version: Literal["1"] = "1"
    signup_id: str | None = None
    tenant_id: str | None = None
    errors: RejectionErrors


class OnboardingStarted(ContractModel):
    """Detail of ``Tenant Onboarding Started``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Onboarding Started"

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

    DETAIL_TYPE: ClassVar[str] = "Tenant Onboarded"

    schema_version: Literal["1"] = "1"
    tenant_id: str
    signup_id: str
    tier: Tier
    deployment_model: DeploymentModel
    git_commit: str
    chart_version: str = Field(description="The exact tenant-chart version the tenant runs.")
    reconciled_at: datetime | None = Field(
        default=None, description="When Flux reported the tenant's HelmRelease ready (absent when not verified)."
    )
    verified: bool = Field(
        description="true: Flux reported it ready; false: the state was committed, not verified (no feedback)."
    )


class OnboardingFailed(ContractModel):
    """Detail of ``Tenant Onboarding Failed``."""

    DETAIL_TYPE: ClassVar[str] = "Tenant Onboarding Failed"

    schema_version: Literal["1"] = "1"
    tenant_id: str
    signup_id: str
    failed_step: str
    error: str
    cause: str
    compensated: bool
