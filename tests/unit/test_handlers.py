"""The handlers with the sample events of events/ (what `sam local invoke -e` feeds them), adapters faked."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from onboarding.contract.signup import SignupRejected
from onboarding.identity import derive_tenant_id
from tests.conftest import REPO, sample_event
from tests.utils.fakes import InMemoryIdempotencyStore, InMemoryTenantStore, RecordingPublisher, RecordingStarter

ENV = {
    "POWERTOOLS_SERVICE_NAME": "tenant-onboarding",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "TenantOnboarding",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "TENANTS_TABLE": "TenantsTable",
    "TENANT_NAMES_TABLE": "TenantNamesTable",
    "EVENT_BUS_NAME": "default",
    "STATUS_EVENT_SOURCE": "saas.onboarding",
    "ONBOARDING_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:Onboarding",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "CLUSTER_CIDRS": '["10.0.0.0/16"]',
    "NAME_RELEASE_AFTER_DAYS": "30",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Context:
    function_name = "IntakeFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:IntakeFunction"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load(function: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"handler_{function}", REPO / "functions" / function / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def intake(event: dict[str, Any], **fakes: Any) -> dict[str, Any]:
    return load("intake").lambda_handler(event, Context(), **fakes)


@pytest.mark.parametrize("sample", sorted(p.name for p in (REPO / "events").glob("signup-*.json")))
def test_intake_accepts_every_sample_event_file(sample: str) -> None:
    starter, publisher = RecordingStarter(), RecordingPublisher()
    result = intake(
        sample_event(sample),
        starter=starter,
        publisher=publisher,
        tenants=InMemoryTenantStore(),
        persistence=InMemoryIdempotencyStore(),
    )
    if "invalid" in sample:
        assert result["outcome"] == "rejected" and starter.started == {}
        assert publisher.of(SignupRejected)[0].errors
    else:
        tenant_id = derive_tenant_id(sample_event(sample)["detail"]["signupId"])
        assert result == {"outcome": "started", "tenantId": tenant_id, "execution": tenant_id, "errors": []}


def test_a_redelivered_event_id_returns_the_first_result_without_side_effects() -> None:
    starter, persistence = RecordingStarter(), InMemoryIdempotencyStore()
    event = sample_event("signup-pooled.json")
    first = intake(
        event, starter=starter, publisher=RecordingPublisher(), tenants=InMemoryTenantStore(), persistence=persistence
    )
    starter_again, publisher_again = RecordingStarter(), RecordingPublisher()
    second = intake(
        event, starter=starter_again, publisher=publisher_again, tenants=InMemoryTenantStore(), persistence=persistence
    )
    assert second == first and first["outcome"] == "started"
    assert starter_again.started == {} and publisher_again.events == []


def test_missing_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONBOARDING_STATE_MACHINE_ARN")
    with pytest.raises(Exception, match="onboarding_state_machine_arn"):
        intake(
            sample_event("signup-pooled.json"),
            starter=RecordingStarter(),
            publisher=RecordingPublisher(),
            tenants=InMemoryTenantStore(),
            persistence=InMemoryIdempotencyStore(),
        )


def test_every_handler_module_imports_without_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV:
        if key.isupper() and not key.startswith("POWERTOOLS"):
            monkeypatch.delenv(key, raising=False)
    for folder in sorted(p.parent.name for p in Path(REPO / "functions").glob("*/app.py")):
        assert callable(load(folder).lambda_handler)
