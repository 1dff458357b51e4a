"""What SbtIntake and SbtAnswer share: the link from an SBT request to what it became here, and the answers.

A link is kept per tenant SBT onboarded (key: our tenantId) and per lifecycle operation SBT asked for (key: the
operationId SbtIntake gave it), with SBT's tenant id, the registration to echo and the vocabulary to answer in.
An outcome with no link was not asked for by SBT, and gets no answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import JsonValue

from onboarding.base import CamelModel
from onboarding.contract.common import FieldError
from onboarding.contract.sbt import (
    FAILURE_STATUS,
    REGISTRATION_STATUS,
    SBT_FIELD_NAMES,
    SbtAction,
    SbtAnswer,
    SbtJobOutput,
    SbtVocabulary,
    answer_detail_type,
)

OPERATION_ID_PREFIX = "sbt-"


class SbtLink(CamelModel):
    key: str  # our tenantId (onboarding) or the operationId (offboarding, activate, deactivate)
    tenant_id: str  # ours
    sbt_tenant_id: str
    tenant_registration_id: str | None = None
    vocabulary: SbtVocabulary
    action: SbtAction
    created_at: datetime


class SbtLinks(Protocol):
    def put(self, link: SbtLink) -> None:
        """Store ``link`` (a redelivered request stores the same link again)."""

    def get(self, key: str) -> SbtLink | None: ...


class EventSender(Protocol):
    def send(self, source: str, detail_type: str, detail: Mapping[str, Any]) -> None:
        """Put one event with its own source and detail-type on the bus (raises when it is not accepted)."""


def operation_id(action: SbtAction, event_id: str) -> str:
    """The operationId of the lifecycle request an SBT request becomes: one per SBT event, so a redelivery of the
    same event is the same operation (and starts no second execution)."""
    return f"{OPERATION_ID_PREFIX}{action.value}-{event_id}"


def sbt_errors(errors: Sequence[FieldError]) -> list[FieldError]:
    """Our field errors under the names SBT sent (``email``, not ``adminEmail``)."""
    renamed = []
    for error in errors:
        head, _, rest = error.field.partition(".")
        field = SBT_FIELD_NAMES.get(head, head) + (f".{rest}" if rest else "")
        renamed.append(FieldError(field=field, message=error.message))
    return renamed


def reason_of(errors: Sequence[FieldError]) -> str:
    return "; ".join(f"{e.field}: {e.message}" for e in errors)


class Answer:
    """One answer to SBT: its source, detail-type and detail."""

    def __init__(self, source: str, detail_type: str, detail: SbtAnswer) -> None:
        self.source, self.detail_type, self.detail = source, detail_type, detail

    def send(self, sender: EventSender) -> None:
        sender.send(self.source, self.detail_type, self.detail.wire())


class AnswerSources:
    """The answer's source per vocabulary (template parameters SbtApplicationPlaneSource and its legacy twin)."""

    def __init__(self, v09: str, legacy: str) -> None:
        self._sources = {SbtVocabulary.V09: v09, SbtVocabulary.LEGACY: legacy}

    def __getitem__(self, vocabulary: SbtVocabulary) -> str:
        return self._sources[vocabulary]


def success(link: SbtLink, sources: AnswerSources, tenant_status: str, tenant_data: Mapping[str, JsonValue]) -> Answer:
    """The success answer for ``link``'s action: the tenant's status here and ``tenant_data`` for SBT's tenant."""
    output = SbtJobOutput(
        tenant_data={"tenantStatus": tenant_status, "applicationPlaneTenantId": link.tenant_id, **tenant_data},
        tenant_registration_data={"registrationStatus": REGISTRATION_STATUS[(link.action, True)]},
    )
    return _answer(link.action, link.vocabulary, sources, link.tenant_registration_id, link.sbt_tenant_id, output, True)


def failure(
    action: SbtAction,
    vocabulary: SbtVocabulary,
    sources: AnswerSources,
    *,
    registration: str | None,
    sbt_tenant_id: str | None,
    reason: str,
    errors: Sequence[FieldError] = (),
    tenant_id: str | None = None,
    failed_step: str | None = None,
) -> Answer:
    """The failure answer for ``action``: SBT's own failure status, and the reason (plus each field's error)."""
    registration_data: dict[str, JsonValue] = {
        "registrationStatus": REGISTRATION_STATUS[(action, False)],
        "failureReason": reason,
    }
    if failed_step:
        registration_data["failedStep"] = failed_step
    tenant_data: dict[str, JsonValue] = {"tenantStatus": FAILURE_STATUS[action]}
    if tenant_id:
        tenant_data["applicationPlaneTenantId"] = tenant_id
    output = SbtJobOutput(
        tenant_data=tenant_data,
        tenant_registration_data=registration_data,
        reason=reason,
        errors=list(errors) or None,
    )
    return _answer(action, vocabulary, sources, registration, sbt_tenant_id, output, False)


def link_failure(
    link: SbtLink,
    sources: AnswerSources,
    reason: str,
    errors: Sequence[FieldError] = (),
    failed_step: str | None = None,
    *,
    tenant_exists: bool = True,
) -> Answer:
    """The failure answer for ``link``; ``tenant_exists`` False (a rejected signup) names no tenant of ours."""
    return failure(
        link.action,
        link.vocabulary,
        sources,
        registration=link.tenant_registration_id,
        sbt_tenant_id=link.sbt_tenant_id,
        reason=reason,
        errors=errors,
        tenant_id=link.tenant_id if tenant_exists else None,
        failed_step=failed_step,
    )


def _answer(
    action: SbtAction,
    vocabulary: SbtVocabulary,
    sources: AnswerSources,
    registration: str | None,
    sbt_tenant_id: str | None,
    output: SbtJobOutput,
    ok: bool,
) -> Answer:
    detail = SbtAnswer(tenant_registration_id=registration, tenant_id=sbt_tenant_id, job_output=output)
    return Answer(sources[vocabulary], answer_detail_type(action, vocabulary, ok), detail)
