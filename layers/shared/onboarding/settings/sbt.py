"""The SBT-AWS application plane's settings: its links, sources and vocabularies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from onboarding.settings import EventSettings


class SbtAnswerSettings(EventSettings):
    """SbtAnswer: the links of SBT's requests, and the source of the answers per vocabulary."""

    sbt_registrations_table: str = Field(min_length=3)
    sbt_application_plane_source: str = Field(min_length=1, description="Source of answers in v0.9's names")
    sbt_legacy_application_plane_source: str = Field(min_length=1, description="Source of answers in earlier names")


class SbtIntakeSettings(SbtAnswerSettings):
    """SbtIntake: which of SBT's vocabularies are accepted, and where its requests are put back as ours."""

    sbt_vocabulary: Literal["both", "v09", "legacy"] = Field(description="SBT's names accepted: both, v09, legacy")
    signup_event_source: str = Field(min_length=1, description="Source of our own signup and lifecycle requests")
