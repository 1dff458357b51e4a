"""Compensate's settings: what it undoes of a failed onboarding, GitOps files and a hybrid tenant's resources."""

from __future__ import annotations

from pydantic import Field

from onboarding.settings import GitOpsSettings, TenantStoreSettings
from onboarding.settings.hybrid import HybridSettings, NetworkClaimsSettings


class CompensateSettings(TenantStoreSettings, GitOpsSettings):
    pass


class HybridCompensateSettings(CompensateSettings, HybridSettings, NetworkClaimsSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
