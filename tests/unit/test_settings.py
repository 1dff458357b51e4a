"""Settings read the environment as the handlers' configuration: at invoke time, validated, naming what is wrong."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest
from pydantic import ValidationError

from onboarding.manifests import GitOpsLayout, SharedEndpoint
from onboarding.settings import GitOpsSettings
from onboarding.settings.hybrid import CreateHybridActivationSettings
from onboarding.settings.signup import SignupIntakeSettings

SIGNUP = {
    "TENANTS_TABLE": "TenantsTable",
    "TENANT_NAMES_TABLE": "TenantNamesTable",
    "EVENT_BUS_NAME": "default",
    "STATUS_EVENT_SOURCE": "saas.onboarding",
    "ONBOARDING_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:Onboarding",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "CLUSTER_CIDRS": '["10.0.0.0/16", "172.20.0.0/16"]',
    "NAME_RELEASE_AFTER_DAYS": "30",
}


@pytest.fixture
def signup_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SIGNUP.items():
        monkeypatch.setenv(key, value)


@pytest.mark.usefixtures("signup_env")
def test_fields_come_from_their_upper_case_variables_and_lists_from_json() -> None:
    settings = SignupIntakeSettings()
    assert settings.tenants_table == "TenantsTable"
    assert settings.name_release_after_days == 30
    assert settings.cluster_cidrs == [IPv4Network("10.0.0.0/16"), IPv4Network("172.20.0.0/16")]


@pytest.mark.usefixtures("signup_env")
def test_names_are_matched_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTS_TABLE")
    monkeypatch.setenv("tenants_table", "lower")
    assert SignupIntakeSettings().tenants_table == "lower"


@pytest.mark.usefixtures("signup_env")
def test_the_environment_is_read_when_the_settings_are_built_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    first = SignupIntakeSettings()
    monkeypatch.setenv("EVENT_BUS_NAME", "other-bus")
    assert (first.event_bus_name, SignupIntakeSettings().event_bus_name) == ("default", "other-bus")


@pytest.mark.usefixtures("signup_env")
def test_a_missing_variable_fails_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE")
    with pytest.raises(ValidationError, match="idempotency_table\n  Field required"):
        SignupIntakeSettings()


@pytest.mark.usefixtures("signup_env")
def test_a_malformed_value_fails_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAME_RELEASE_AFTER_DAYS", "-1")
    with pytest.raises(ValidationError, match="name_release_after_days"):
        SignupIntakeSettings()
    monkeypatch.setenv("NAME_RELEASE_AFTER_DAYS", "30")
    monkeypatch.setenv("CLUSTER_CIDRS", "10.0.0.0/16")  # not JSON
    with pytest.raises(ValidationError, match="cluster_cidrs\n  Invalid JSON"):
        SignupIntakeSettings()
    monkeypatch.setenv("CLUSTER_CIDRS", '["10.0.0.300/16"]')
    with pytest.raises(ValidationError, match=r"cluster_cidrs\.0"):
        SignupIntakeSettings()


def test_a_nested_model_is_read_one_sub_field_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the GitOps layout as template.yaml sets it: GITOPS_LAYOUT__<FIELD>, lists as JSON
    monkeypatch.setenv("GITOPS_REPO_URL", "git://127.0.0.1/gitops.git")
    monkeypatch.setenv("GITOPS_BRANCH", "main")
    monkeypatch.setenv("GITOPS_LAYOUT__TENANT_DOMAIN", "tenants.example.org")
    monkeypatch.setenv("GITOPS_LAYOUT__SHARED_ENDPOINTS", '[{"cidr": "10.9.0.0/16", "port": 443}]')
    monkeypatch.setenv("GITOPS_LAYOUT__AWS_ACCOUNT_ID", "123456789012")
    # When the settings are built, Then the layout holds them and its defaults for the rest
    layout = GitOpsSettings().gitops_layout
    assert layout == GitOpsLayout(
        tenant_domain="tenants.example.org",
        shared_endpoints=(SharedEndpoint(cidr="10.9.0.0/16", port=443),),
        aws_account_id="123456789012",
    )


def test_a_nested_model_defaults_when_no_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GITOPS_LAYOUT", "GITOPS_LAYOUT__TENANT_DOMAIN", "GITOPS_LAYOUT__SHARED_ENDPOINTS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GITOPS_REPO_URL", "https://git.example.com/gitops.git")
    monkeypatch.setenv("GITOPS_BRANCH", "main")
    assert GitOpsSettings().gitops_layout == GitOpsLayout()


def test_required_fields_are_the_ones_without_defaults() -> None:
    # what tests/template checks against each function's environment in template.yaml
    required = {name for name, field in CreateHybridActivationSettings.model_fields.items() if field.is_required()}
    assert "gitops_layout" not in required
    assert {"hybrid_nodes_role", "handover_bucket", "aws_region"} <= required


def test_settings_are_frozen(signup_env: None) -> None:
    settings = SignupIntakeSettings()
    with pytest.raises(ValidationError):
        settings.tenants_table = "other"  # type: ignore[misc]
