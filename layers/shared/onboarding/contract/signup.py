"""Onboarding: ``Tenant Signup Requested`` (inbound) and the onboarding outcomes (outbound)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from onboarding.contract.common import (
    DEFAULT_MODEL_BY_TIER,
    SIGNUP_ID_PATTERN,
    ContractModel,
    DeploymentModel,
    FieldError,
    Tier,
)

TENANT_NAME_MAX = 100
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$"


PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


class HybridSpec(ContractModel):
    """What a hybrid (EKS Hybrid Nodes) signup carries: the tenant's on-premises ranges, nodes and database."""

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
    chart_version: str = Field(description="The exact tenant-chart version the tenant runs.")
    reconciled_at: datetime | None = Field(
        default=None, description="When Flux reported the tenant's HelmRelease ready (absent when not verified)."
    )
    verified: bool = Field(
        description="true: Flux reported it ready; false: the state was committed, not verified (no feedback)."
    )


class OnboardingFailed(ContractModel):
    """Detail of ``Tenant Onboarding Failed``."""

    schema_version: Literal["1"] = "1"
    tenant_id: str
    signup_id: str
    failed_step: str
    error: str
    cause: str
    compensated: bool
