"""Flux's verdict: notification-controller events, their signatures, and what they say about a tenant.

notification-controller's ``generic-hmac`` provider posts each event as JSON with
``X-Signature: sha256=<hex HMAC-SHA256 of the exact body>``, keyed by its Secret's ``token``. The
provider's own cluster signs with the master token; a remote tenant's cluster signs with a token of
its own, derived from the master, so one customer can never move another tenant's state.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from onboarding.ports import TaskCallbacks

SUCCESS = {"InstallSucceeded": "ready", "UpgradeSucceeded": "ready", "UninstallSucceeded": "uninstalled"}
FAILURE = frozenset(
    {"InstallFailed", "UpgradeFailed", "ArtifactFailed", "TestFailed", "RollbackSucceeded", "UninstallFailed"}
)
KUSTOMIZATION_FAILURE = frozenset({"ReconciliationFailed", "HealthCheckFailed", "BuildFailed"})
_TENANT_OBJECT = re.compile(r"HelmRelease/[a-z0-9-]+/(t-[a-z0-9-]{1,61})")


class Outcome(StrEnum):
    READY = "ready"
    UNINSTALLED = "uninstalled"
    FAILED = "failed"


class InvolvedObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: str
    name: str
    namespace: str = ""


class FluxEvent(BaseModel):
    """notification-controller's event payload (fields not listed here are kept, not required)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    involved_object: InvolvedObject = Field(alias="involvedObject")
    severity: str
    timestamp: datetime
    message: str
    reason: str
    metadata: dict[str, str] = Field(default_factory=dict)
    reporting_controller: str = Field(default="", alias="reportingController")

    @property
    def revision(self) -> str | None:
        return self.metadata.get("revision")

    def tenant_ids(self) -> list[str]:
        """The tenants the event is about: the annotation Flux forwards, or the tenant objects it names."""
        if tenant := self.metadata.get("tenantId"):
            return [tenant]
        if self.involved_object.kind == "Kustomization" and self.reason in KUSTOMIZATION_FAILURE:
            return sorted(set(_TENANT_OBJECT.findall(self.message)))
        return []

    def outcome(self) -> Outcome | None:
        if self.reason in SUCCESS:
            return Outcome(SUCCESS[self.reason])
        if self.reason in FAILURE or self.reason in KUSTOMIZATION_FAILURE:
            return Outcome.FAILED
        return None  # progress and informational events say nothing final


# How far after an event's own timestamp it still counts as seen when received: notification-controller stamps
# events to the second (truncated), and the clocks of a cluster and of Lambda may differ a little.
FLUX_CLOCK_SLACK = timedelta(seconds=2)


def seen_at(event: FluxEvent, received: datetime) -> datetime:
    """When Flux saw what ``event`` reports: when it was received, unless it was stamped well before (a
    re-delivery after 5xx answers, up to about 15 s late): a late copy of an old verdict must not answer a
    wait that started after it (a suspend at the same chart version, say)."""
    stamped = event.timestamp if event.timestamp.tzinfo else event.timestamp.replace(tzinfo=UTC)
    return min(received, stamped + FLUX_CLOCK_SLACK)


class Verdict(BaseModel):
    """What Flux said about one tenant, as recorded (verdicts may arrive before anyone waits for them)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    outcome: Outcome
    reason: str
    message: str
    revision: str | None
    at: datetime

    def answers(self, expect: Outcome, chart_version: str | None) -> bool:
        """Whether this verdict settles a wait for ``expect`` at ``chart_version`` (a failure always does)."""
        if self.outcome is Outcome.FAILED:
            return True
        if self.outcome is not expect:
            return False
        return expect is Outcome.UNINSTALLED or chart_version is None or self.revision == chart_version

    def result(self) -> dict[str, Any]:
        return {"reconciledAt": self.at.isoformat(), "reason": self.reason, "revision": self.revision}

    def resume(self, task_token: str, callbacks: TaskCallbacks) -> bool:
        """Resume the waiting execution with this verdict (a failure carries Flux's own message)."""
        if self.outcome is Outcome.FAILED:
            return callbacks.fail(task_token, "ReconcileFailed", f"Flux {self.reason}: {self.message}")
        return callbacks.succeed(task_token, self.result())


class ReconcileWaiter(BaseModel):
    """An execution waiting (with a task token) for Flux's verdict on its tenant."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    task_token: str
    execution: str
    expect: Outcome
    chart_version: str | None
    since: datetime | None


def tenant_token(master: str, tenant_id: str) -> str:
    """The token a remote tenant's own cluster signs with: derived, so it proves nothing about other tenants."""
    return hmac.new(master.encode(), f"flux-receiver/{tenant_id}".encode(), hashlib.sha256).hexdigest()


def signature(token: str, body: bytes) -> str:
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def signed_by(token: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of ``X-Signature: sha256=<hex>`` over the exact raw body."""
    return bool(header) and hmac.compare_digest(signature(token, body), (header or "").strip().lower())
