"""Hybrid tenants' settings: SSM activations, their handover, and the network claims registry."""

from __future__ import annotations

from pydantic import Field

from onboarding.settings import LayoutSettings, Settings, StepSettings, TenantStoreSettings


class HybridSettings(Settings):
    hybrid_nodes_role: str = Field(min_length=1, description="IAM role the hybrid nodes assume (EKS Hybrid Nodes role)")
    activation_expiry_days: int = Field(ge=1, le=30)
    tenant_secret_prefix: str = Field(min_length=1)
    handover_bucket: str = Field(min_length=3)
    cluster_name: str = Field(min_length=1)
    aws_region: str = Field(min_length=1)


class CreateHybridActivationSettings(HybridSettings, LayoutSettings):
    pass


class NetworkClaimsSettings(Settings):
    network_claims_table: str = Field(min_length=3)


class RegisterSettings(StepSettings, NetworkClaimsSettings):
    pass


class ReleaseHybridSettings(TenantStoreSettings, HybridSettings, NetworkClaimsSettings):
    pass
