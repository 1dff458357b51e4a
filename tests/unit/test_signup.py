"""Signup validation and tenant identity: the contract's rules, and properties over any input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from onboarding.contract import DeploymentModel, SignupRequested
from onboarding.identity import TENANT_ID_PATTERN, derive_tenant_id, execution_name, name_key
from onboarding.validation import field_errors


def detail(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"signupId": "s-1", "tenantName": "Acme", "adminEmail": "a@acme.example", "tier": "basic"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        SignupRequested.model_validate(data)
    return {e.field: e.message for e in field_errors(info.value)}


@pytest.mark.parametrize(
    ("tier", "model"),
    [("basic", DeploymentModel.POOLED), ("premium", DeploymentModel.SILOED), ("advanced", DeploymentModel.SILOED)],
)
def test_deployment_model_defaults_by_tier(tier: str, model: DeploymentModel) -> None:
    assert SignupRequested.model_validate(detail(tier=tier)).model is model


def test_explicit_deployment_model_wins_over_the_tier_default() -> None:
    assert (
        SignupRequested.model_validate(detail(tier="premium", deploymentModel="pooled")).model is DeploymentModel.POOLED
    )


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
    s = SignupRequested.model_validate(
        detail(deploymentModel="remote", awsAccountId="123456789012", region="eu-west-1")
    )
    assert (s.aws_account_id, s.region) == ("123456789012", "eu-west-1")


def test_every_wrong_field_is_named() -> None:
    errors = errors_of({"signupId": "has space", "tenantName": "", "adminEmail": "nope", "tier": "gold", "extra": 1})
    assert set(errors) == {"signupId", "tenantName", "adminEmail", "tier", "extra"}


def test_missing_fields_are_named() -> None:
    assert set(errors_of({})) == {"signupId", "tenantName", "adminEmail", "tier"}


@pytest.mark.parametrize("name", ["   ", "\u200b", "---", "a\u0000b", "x" * 101])
def test_bad_tenant_names_are_rejected(name: str) -> None:
    assert "tenantName" in errors_of(detail(tenantName=name))


def test_tenant_name_is_normalized_but_keeps_unicode() -> None:
    s = SignupRequested.model_validate(detail(tenantName="  Cafe\u0301   Société  日本 "))
    assert s.tenant_name == "Café Société 日本"


def test_hybrid_cidrs_must_be_private_and_disjoint() -> None:
    errors = errors_of(
        detail(
            deploymentModel="hybrid",
            hybrid={
                "nodeCidrs": ["8.8.8.0/24"],
                "podCidrs": ["10.0.0.0/16"],
                "nodeCount": 3,
                "supportingServices": "bundled",
            },
        )
    )
    assert "hybrid.nodeCidrs" in errors and "not a private range" in errors["hybrid.nodeCidrs"]
    overlap = errors_of(
        detail(
            deploymentModel="hybrid",
            hybrid={
                "nodeCidrs": ["10.0.0.0/16"],
                "podCidrs": ["10.0.1.0/24"],
                "nodeCount": 3,
                "supportingServices": "bundled",
            },
        )
    )
    assert any("overlap" in m for m in overlap.values())


def test_name_key_is_case_and_accent_insensitive() -> None:
    assert name_key("Café  Ltd") == name_key("CAFE LTD") == name_key("cafe\u0301 ltd")
    assert name_key("Acme") != name_key("Acme 2")


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
        signup = SignupRequested.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        assert errors and all(e.field and e.message for e in errors)
    else:
        assert TENANT_ID_PATTERN.match(derive_tenant_id(signup.signup_id))
        assert signup.model in DeploymentModel
