"""Intake: validate a ``Tenant Signup Requested`` event and start (at most) one onboarding for it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from typing import Any

from pydantic import ValidationError

from onboarding.cidrs import cluster_conflicts
from onboarding.contract.common import FieldError
from onboarding.contract.signup import SignupRejected, SignupRequested
from onboarding.identity import derive_tenant_id, execution_name
from onboarding.observability import logger
from onboarding.payloads import OnboardingRequest
from onboarding.ports import EventPublisher, ExecutionStarter, TenantStore
from onboarding.records import TenantStatus
from onboarding.validation import IntakeResult, bounded, echoed, field_errors


def _reject(publisher: EventPublisher, signup_id: str | None, violations: list[FieldError]) -> IntakeResult:
    errors = bounded(violations)  # whatever the signup held, the rejection fits in an event
    logger.info("signup rejected", extra={"signupId": signup_id, "errors": [e.wire() for e in errors]})
    publisher.publish([SignupRejected(signup_id=signup_id, errors=errors)])
    return IntakeResult(outcome="rejected", errors=tuple(errors))


def handle_signup(
    detail: Any,
    *,
    starter: ExecutionStarter,
    publisher: EventPublisher,
    tenants: TenantStore,
    cluster_cidrs: Sequence[IPv4Network] = (),
    name_release_after: timedelta = timedelta(days=30),
) -> IntakeResult:
    try:
        signup = SignupRequested.from_wire(detail)
    except ValidationError as exc:
        return _reject(publisher, echoed(detail, "signupId"), field_errors(exc))
    if signup.hybrid is not None and (clashes := cluster_conflicts(signup.hybrid, cluster_cidrs)):
        return _reject(publisher, signup.signup_id, clashes)

    tenant_id = derive_tenant_id(signup.signup_id)
    logger.set_correlation_id(tenant_id)
    existing = tenants.get(tenant_id)
    if existing is not None and existing.status is TenantStatus.OFFBOARDED:
        # Never silent: the signup product learns why, and when the name can be taken again.
        offboarded = existing.offboarded_at or existing.updated_at
        released = offboarded + name_release_after
        message = (
            f"signup {signup.signup_id} belongs to tenant {tenant_id}, offboarded at {offboarded.isoformat()}; "
            f"a new signup needs a new signupId (the name {existing.tenant_name!r} is released at "
            f"{released.isoformat()})"
        )
        return _reject(publisher, signup.signup_id, [FieldError(field="signupId", message=message)])
    if existing is not None and existing.status is not TenantStatus.FAILED:
        # Already onboarding or onboarded: a duplicate delivery changes nothing.
        return IntakeResult(outcome="duplicate", tenant_id=tenant_id, execution=existing.execution)
    attempt = 1 if existing is None else existing.attempts + 1  # a FAILED tenant is re-driven
    name = execution_name(tenant_id, attempt)
    request = OnboardingRequest(
        tenant_id=tenant_id, attempt=attempt, execution=name, signup=signup, requested_at=datetime.now(UTC)
    )
    started = starter.start(name, request.wire())
    logger.info("onboarding started" if started else "duplicate signup", extra={"execution": name})
    return IntakeResult(outcome="started" if started else "duplicate", tenant_id=tenant_id, execution=name)
