"""Signup validation and tenant identity: the contract's rules, and properties over any input."""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from onboarding.contract.common import MAX_REJECTION_ERRORS, DeploymentModel, FieldError, Tier
from onboarding.contract.lifecycle import OperationRejectedEvent, SuspendRequested
from onboarding.contract.signup import HybridSpec, SignupRejected, SignupRequested
from onboarding.identity import TENANT_ID_PATTERN, derive_tenant_id, execution_name, name_key
from onboarding.steps.intake import handle_signup
from onboarding.steps.lifecycle_intake import handle_lifecycle_request
from onboarding.validation import field_errors
from tests.utils.fakes import InMemoryTenantStore, RecordingPublisher, RecordingStarter


def detail(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"signupId": "s-1", "tenantName": "Acme", "adminEmail": "a@acme.example", "tier": "basic"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        SignupRequested.from_wire(data)
    return {e.field: e.message for e in field_errors(info.value)}


def hybrid(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeCidrs": ["10.10.0.0/24"],
        "podCidrs": ["10.20.0.0/16"],
        "nodeCount": 3,
        "supportingServices": "bundled",
    }
    return detail(deploymentModel="hybrid", hybrid={**spec, **overrides})


@pytest.mark.parametrize(
    ("tier", "model"),
    [("basic", DeploymentModel.POOLED), ("premium", DeploymentModel.SILOED), ("advanced", DeploymentModel.SILOED)],
)
def test_deployment_model_defaults_by_tier(tier: str, model: DeploymentModel) -> None:
    assert SignupRequested.from_wire(detail(tier=tier)).model is model


def test_explicit_deployment_model_wins_over_the_tier_default() -> None:
    assert SignupRequested.from_wire(detail(tier="premium", deploymentModel="pooled")).model is DeploymentModel.POOLED


def test_remote_requires_account_and_region_and_names_both() -> None:
    errors = errors_of(detail(deploymentModel="remote"))
    assert "awsAccountId" in errors and "region" in errors


def test_remote_fields_are_validated() -> None:
    errors = errors_of(detail(deploymentModel="remote", awsAccountId="12345", region="Mars-1"))
    assert set(errors) == {"awsAccountId", "region"}


def test_remote_fields_are_refused_on_other_models() -> None:
    errors = errors_of(detail(awsAccountId="123456789012", region="eu-west-1"))
    assert set(errors) == {"awsAccountId", "region"}
    assert "only allowed" in errors["region"]


def test_valid_remote_signup() -> None:
    s = SignupRequested.from_wire(detail(deploymentModel="remote", awsAccountId="123456789012", region="eu-west-1"))
    assert (s.aws_account_id, s.region) == ("123456789012", "eu-west-1")


def test_every_wrong_field_is_named() -> None:
    errors = errors_of({"signupId": "has space", "tenantName": "", "adminEmail": "nope", "tier": "gold", "extra": 1})
    assert set(errors) == {"signupId", "tenantName", "adminEmail", "tier", "extra"}


def test_missing_fields_are_named() -> None:
    assert set(errors_of({})) == {"signupId", "tenantName", "adminEmail", "tier"}


@pytest.mark.parametrize(
    "name",
    [
        "   ",
        "\u200b",
        "---",
        "a\u0000b",
        "x" * 101,
        "zero\u200bwidth",  # zero-width space
        "\ufeffBOM Ltd",  # byte order mark
        "Acme\u202eevil",  # bidi override (U+202A-202E)
        "Acme\u2066Ltd\u2069",  # bidi isolates (U+2066-2069)
        "Acme\u200fLtd",  # right-to-left mark
        "Acme\ue000",  # private use
        "Acme\u0378",  # unassigned
        "\u200c\u200d\u00ad",  # only format characters: nothing readable
    ],
)
def test_bad_tenant_names_are_rejected(name: str) -> None:
    assert "tenantName" in errors_of(detail(tenantName=name))


@pytest.mark.parametrize(
    "name",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u0634\u0631\u06a9\u062a",  # Persian: ZWNJ
        "\u0915\u094d\u200d\u0937 Labs",  # Devanagari: ZWJ
        "\U0001f469\u200d\U0001f4bb Coders",  # emoji ZWJ sequence
        "Donau\u00addampf\u00adschiff GmbH",  # soft hyphens
    ],
)
def test_names_with_the_format_characters_real_names_use_are_accepted(name: str) -> None:
    assert SignupRequested.from_wire(detail(tenantName=name)).tenant_name == name


def test_tenant_name_is_normalized_but_keeps_unicode() -> None:
    s = SignupRequested.from_wire(detail(tenantName="  Cafe\u0301   Société  日本 "))
    assert s.tenant_name == "Café Société 日本"


def test_hybrid_cidrs_must_be_private_and_disjoint() -> None:
    errors = errors_of(hybrid(nodeCidrs=["8.8.8.0/24"], podCidrs=["10.0.0.0/16"]))
    assert "hybrid.nodeCidrs.0" in errors and "not a private range" in errors["hybrid.nodeCidrs.0"]
    overlap = errors_of(hybrid(nodeCidrs=["10.0.0.0/16"], podCidrs=["10.0.1.0/24"]))
    assert set(overlap) == {"hybrid.podCidrs.0"}
    assert overlap["hybrid.podCidrs.0"] == "10.0.1.0/24 overlaps 10.0.0.0/16 (hybrid.nodeCidrs.0)"


def test_every_bad_cidr_is_named_at_its_own_index() -> None:
    errors = errors_of(
        hybrid(
            nodeCidrs=["10.1.0.0/24", "8.8.8.0/24", "banana", "1.1.1.0/24", 167772160, "10.1.0.128/25"],
            podCidrs=["10.2.0.0/16", "10.2.3.0/24", "10.1.0.0/16"],
        )
    )
    assert set(errors) == {
        "hybrid.nodeCidrs.1",  # public
        "hybrid.nodeCidrs.2",  # not a CIDR
        "hybrid.nodeCidrs.3",  # public
        "hybrid.nodeCidrs.4",  # a number, not a string
        "hybrid.podCidrs.1",  # overlaps podCidrs.0 (the node ranges are not compared until they are valid)
    }
    # once the ranges are well-formed and private, each overlap is named at the later range's index
    overlaps = errors_of(hybrid(nodeCidrs=["10.1.0.0/24"], podCidrs=["10.2.0.0/16", "10.2.3.0/24", "10.1.0.0/16"]))
    assert set(overlaps) == {"hybrid.podCidrs.1", "hybrid.podCidrs.2"}
    assert overlaps["hybrid.podCidrs.2"] == "10.1.0.0/16 overlaps 10.1.0.0/24 (hybrid.nodeCidrs.0)"
    nodes = errors_of(hybrid(nodeCidrs=["10.1.0.0/24", "10.3.0.0/24", "10.1.0.128/25", "10.3.0.0/16"]))
    assert set(nodes) == {"hybrid.nodeCidrs.2", "hybrid.nodeCidrs.3"}


def test_customer_database_fields_are_named_where_they_belong() -> None:
    missing = errors_of(hybrid(supportingServices="customer"))
    assert set(missing) == {"hybrid.databaseEndpoint", "hybrid.databaseSecretArn"}
    assert "required for supportingServices 'customer'" in missing["hybrid.databaseEndpoint"]
    refused = errors_of(hybrid(databaseEndpoint="db.example:5432"))
    assert set(refused) == {"hybrid.databaseEndpoint"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tenant_name": "Acme"}, "tenant_name"),
        ({"signup_id": "s-2"}, "signup_id"),
        ({"deployment_model": "pooled"}, "deployment_model"),
        ({"schema_version": "1"}, "schema_version"),
    ],
)
def test_snake_case_keys_are_unknown_fields_named_as_sent(overrides: dict[str, Any], field: str) -> None:
    assert set(errors_of(detail(**overrides))) == {field}


def test_snake_case_instead_of_camel_case_names_both_keys() -> None:
    sent = {"signupId": "s-1", "tenant_name": "Acme", "adminEmail": "a@acme.example", "tier": "basic"}
    errors = errors_of(sent)
    assert set(errors) == {"tenantName", "tenant_name"}
    assert errors["tenantName"] == "Field required" and errors["tenant_name"] == "Extra inputs are not permitted"
    assert set(errors_of(hybrid(node_count=3))) == {"hybrid.node_count"}


def test_python_code_still_builds_models_by_field_name() -> None:
    signup = SignupRequested(signup_id="s-1", tenant_name="Acme", admin_email="a@acme.example", tier=Tier.BASIC)
    assert signup.wire()["tenantName"] == "Acme"
    assert SignupRejected(signup_id="s-1", errors=[FieldError(field="tier", message="no")]).wire()["signupId"] == "s-1"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"nodeCount": True}, "hybrid.nodeCount"),
        ({"nodeCount": "07"}, "hybrid.nodeCount"),
        ({"nodeCount": "3"}, "hybrid.nodeCount"),
        ({"nodeCount": 3.0}, "hybrid.nodeCount"),
        ({"nodeCidrs": [167772160]}, "hybrid.nodeCidrs.0"),
        ({"nodeCidrs": "10.10.0.0/24"}, "hybrid.nodeCidrs"),
        ({"databaseEndpoint": 5432, "supportingServices": "customer"}, "hybrid.databaseEndpoint"),
    ],
)
def test_types_are_strict_as_the_schema_says(spec: dict[str, Any], field: str) -> None:
    assert field in errors_of(hybrid(**spec))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"signupId": 7}, "signupId"),
        ({"tenantName": 42}, "tenantName"),
        ({"tier": 1}, "tier"),
        ({"schemaVersion": 1}, "schemaVersion"),
        ({"deploymentModel": "remote", "awsAccountId": 123456789012, "region": "eu-west-1"}, "awsAccountId"),
    ],
)
def test_top_level_types_are_strict(overrides: dict[str, Any], field: str) -> None:
    assert field in errors_of(detail(**overrides))


def test_stored_records_keep_working_with_dynamodb_numbers() -> None:
    # DynamoDB gives numbers back as Decimal: a stored hybrid spec still reads (only the wire is JSON)
    spec = HybridSpec.model_validate({**hybrid()["hybrid"], "nodeCount": Decimal(3)})
    assert spec.node_count == 3 and isinstance(spec.node_count, int)


def test_name_key_is_case_and_accent_insensitive() -> None:
    assert name_key("Café  Ltd") == name_key("CAFE LTD") == name_key("cafe\u0301 ltd")
    assert name_key("Acme") != name_key("Acme 2")
    assert name_key("Ac\u00adme") == name_key("Acme")  # an invisible soft hyphen makes no new name


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=100))
def test_every_accepted_name_has_a_key_dynamodb_can_store(name: str) -> None:
    try:
        signup = SignupRequested.from_wire(detail(tenantName=name))
    except ValidationError:
        return
    key = name_key(signup.tenant_name)
    assert key.startswith("sha256:") and len(key.encode("utf-8")) == 71  # DynamoDB's key limit is 2,048 bytes


def test_a_name_of_100_wide_characters_has_a_short_key() -> None:
    wide = "\ufdfa" * 100  # one character, 18 after NFKD: over 5 KB as a plain key
    signup = SignupRequested.from_wire(detail(tenantName=wide))
    assert len(unicodedata.normalize("NFKD", signup.tenant_name).encode("utf-8")) > 2048
    assert len(name_key(signup.tenant_name)) == 71


def test_tenant_id_is_deterministic_readable_and_distinct() -> None:
    assert derive_tenant_id("Acme-Signup-1") == derive_tenant_id("Acme-Signup-1")
    assert derive_tenant_id("Acme-Signup-1").startswith("t-acme-signup-1-")
    assert derive_tenant_id("a.b") != derive_tenant_id("a-b")  # same slug, different signups


def test_execution_names_fit_step_functions_limits() -> None:
    tenant = derive_tenant_id("x" * 128)
    assert execution_name(tenant, 1) == tenant
    assert len(execution_name(tenant, 999)) <= 80


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_signup_id_gives_a_dns_1123_tenant_id(signup_id: str) -> None:
    tenant_id = derive_tenant_id(signup_id)
    assert TENANT_ID_PATTERN.match(tenant_id), tenant_id
    assert len(tenant_id) <= 53


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
fields = st.sampled_from(
    ["signupId", "tenantName", "adminEmail", "tier", "deploymentModel", "awsAccountId", "region", "hybrid", "x"]
)


@settings(max_examples=400, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "signupId": st.text(max_size=140) | json_values,
            "tenantName": st.text(max_size=120) | json_values,
            "adminEmail": st.emails() | st.text(max_size=30),
            "tier": st.sampled_from(["basic", "premium", "advanced", "gold"]) | json_values,
            "deploymentModel": st.sampled_from(["pooled", "siloed", "remote", "hybrid", "edge"]),
            "awsAccountId": st.from_regex(r"\A[0-9]{12}\Z") | st.text(max_size=14),
            "region": st.sampled_from(["eu-west-1", "us-gov-west-1", "moon"]),
        },
    )
    | st.dictionaries(fields, json_values, max_size=6)
)
def test_any_detail_is_either_a_valid_signup_or_a_named_rejection(data: dict[str, Any]) -> None:
    try:
        signup = SignupRequested.from_wire(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        assert errors and all(e.field and e.message for e in errors)
    else:
        assert TENANT_ID_PATTERN.match(derive_tenant_id(signup.signup_id))
        assert signup.model in DeploymentModel


# ------------------------------------------------------------------ rejections fit in an event
EVENTBRIDGE_ENTRY_LIMIT = 256 * 1024


def wire_size(event: Any) -> int:
    return len(json.dumps(event.wire(), ensure_ascii=False).encode("utf-8"))


def test_a_signup_with_thousands_of_unknown_fields_is_rejected_in_an_event_that_fits() -> None:
    sent = detail(**{f"unknown_field_{i:05d}_{'x' * 60}": i for i in range(5000)})
    publisher = RecordingPublisher()
    result = handle_signup(sent, starter=RecordingStarter(), publisher=publisher, tenants=InMemoryTenantStore())
    (rejection,) = publisher.of(SignupRejected)
    assert result.outcome == "rejected" and rejection.signup_id == "s-1"
    assert wire_size(rejection) < EVENTBRIDGE_ENTRY_LIMIT // 4
    *named, summary = rejection.errors
    assert len(named) == MAX_REJECTION_ERRORS and named[0].field == f"unknown_field_00000_{'x' * 60}"
    assert summary == FieldError(field="detail", message=f"... and {5000 - MAX_REJECTION_ERRORS} more violations")


def test_huge_keys_and_identifiers_are_cut_and_the_event_still_fits() -> None:
    wide = "\U0001f600" * 5000
    sent = {"signupId": "s" * 200_000, **{f"{i}{wide}": None for i in range(120)}}
    publisher = RecordingPublisher()
    handle_signup(sent, starter=RecordingStarter(), publisher=publisher, tenants=InMemoryTenantStore())
    (rejection,) = publisher.of(SignupRejected)
    assert rejection.signup_id is None  # far too long to echo: invalid anyway, and never cut into another's id
    assert wire_size(rejection) < EVENTBRIDGE_ENTRY_LIMIT // 4
    assert all(len(e.field) <= 200 and len(e.message) <= 500 for e in rejection.errors)
    assert rejection.errors[-1].field == "detail" and "more violations" in rejection.errors[-1].message


def test_a_lifecycle_request_with_thousands_of_unknown_fields_is_rejected_in_an_event_that_fits() -> None:
    sent = {"tenantId": "t-x-0123456789", "operationId": "o-1", **{f"force{i}": True for i in range(20_000)}}
    publisher = RecordingPublisher()
    result = handle_lifecycle_request("Tenant Suspend Requested", sent, starter=RecordingStarter(), publisher=publisher)
    (rejection,) = publisher.of(OperationRejectedEvent)
    assert result.outcome == "rejected" and rejection.operation_id == "o-1"
    assert wire_size(rejection) < EVENTBRIDGE_ENTRY_LIMIT // 4
    assert rejection.errors[-1].message == f"... and {20_000 - MAX_REJECTION_ERRORS} more violations"
    assert SuspendRequested.from_wire({"tenantId": "t-x-0123456789", "operationId": "o-1"}).operation_id == "o-1"


def test_a_lifecycle_request_with_snake_case_keys_is_rejected() -> None:
    publisher = RecordingPublisher()
    sent = {"tenant_id": "t-x-0123456789", "operation_id": "o-1"}
    handle_lifecycle_request("Tenant Suspend Requested", sent, starter=RecordingStarter(), publisher=publisher)
    (rejection,) = publisher.of(OperationRejectedEvent)
    assert {e.field for e in rejection.errors} == {"tenantId", "operationId", "tenant_id", "operation_id"}
