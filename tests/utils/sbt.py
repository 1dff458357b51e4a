"""SBT-AWS's requests as the pipeline tests send them (events/sbt/), and the answers they read back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "sbt"
V09 = ("sbt.application.plane", "sbt_aws_")
LEGACY = ("applicationPlaneEventSource", "")


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return event


def onboarding_request(case: str, name: str = "onboarding-request.json") -> dict[str, Any]:
    """The sample onboarding request as another SBT tenant: its own tenantId, registration, name and event id
    (derived from ``case``), so that the tests of one stack never ask for one tenant twice."""
    event = sample(name)
    event["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sbt/{case}/event"))
    event["detail"].update(
        tenantId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sbt/{case}/tenant")),
        tenantRegistrationId=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sbt/{case}/registration")),
        tenantName=f"{event['detail']['tenantName']} {case}",
    )
    return event


def answers(events: list[dict[str, Any]], source: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e["detail-type"], e["detail"]) for e in events if e["source"] == source]


def settle(stack: Any, *events: dict[str, Any]) -> None:
    stack.put_events(list(events))
    stack.wait_idle(180)


def status(stack: Any, tenant_id: str) -> str | None:
    record = stack.tenant(tenant_id)
    return None if record is None else str(record["status"])


def sbt_request(detail_type: str, source: str, **detail: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "detail-type": detail_type, "source": source, "detail": detail}
