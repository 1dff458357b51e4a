"""Flux's verdicts: the reconcile table, and the receiver of notification-controller's events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from onboarding.settings import Settings, TenantStoreSettings


class ReconcileSettings(Settings):
    reconcile_table: str = Field(min_length=3)
    reconcile_feedback: Literal["flux", "none"] = Field(description="flux: wait for Flux's verdict; none: do not")


class FluxReceiverSettings(TenantStoreSettings, ReconcileSettings):
    flux_receiver_token_secret: str = Field(min_length=1, description="Secrets Manager secret of the master token")
