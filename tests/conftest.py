"""Shared fixtures: signup envelopes, and the embedded local stack for pipeline tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def signup_event(signup_id: str, tenant_name: str, tier: str = "basic", **extra: Any) -> dict[str, Any]:
    """A ``Tenant Signup Requested`` envelope as EventBridge delivers it (the format of events/)."""
    detail = {"signupId": signup_id, "tenantName": tenant_name, "adminEmail": "admin@example.com", "tier": tier}
    detail.update(extra)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Tenant Signup Requested",
        "source": "saas.signup",
        "account": "123456789012",
        "time": "2026-11-24T09:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def sample_event(name: str) -> dict[str, Any]:
    return json.loads((REPO / "events" / name).read_text(encoding="utf-8"))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Any]:
    from onboarding_local.stack import LocalStack

    with LocalStack(tmp_path / "stack") as running:
        yield running
