"""Properties of the lifecycle contract (the four ``Tenant ... Requested`` details): accepted means valid against
the published JSON Schema, and every rejection names existing paths or missing required fields, bounded."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from onboarding.contract.common import MAX_REJECTION_ERRORS
from onboarding.contract.lifecycle import LIFECYCLE_OPERATIONS
from onboarding.identity import derive_tenant_id
from onboarding.validation import bounded, field_errors
from tests.unit.test_contract_properties import PROPERTY_SETTINGS, json_values, paths

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "v1"
FILES = {detail_type: detail_type.lower().replace(" ", "-") + ".json" for detail_type in LIFECYCLE_OPERATIONS}


@cache
def schema(detail_type: str) -> tuple[Draft202012Validator, frozenset[str]]:
    document = json.loads((SCHEMAS / FILES[detail_type]).read_text(encoding="utf-8"))
    return Draft202012Validator(document), frozenset(document.get("required", []))


def check(detail_type: str, detail: Any) -> bool:
    model = LIFECYCLE_OPERATIONS[detail_type][1]
    validator, required = schema(detail_type)
    try:
        model.from_wire(detail)
    except ValidationError as exc:
        errors = bounded(field_errors(exc))
        assert 1 <= len(errors) <= MAX_REJECTION_ERRORS + 1, errors
        fields = {e.field for e in errors}
        assert fields <= set(paths(detail)) | required | {"detail"}, (fields, detail)
        return False
    problems = [e.message for e in validator.iter_errors(detail)]
    assert not problems, (problems, detail)
    return True


KEYS = ["tenantId", "operationId", "tier", "dataPlan", "schemaVersion", "tenant_id", "x"]
valid_values = {
    "tenantId": st.sampled_from([derive_tenant_id("s-1"), "t-acme-0123456789"]),
    "operationId": st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=40),
    "tier": st.sampled_from(["basic", "premium", "advanced"]),
    "dataPlan": st.sampled_from(["keep", "migrate", "discard"]),
}
details = st.fixed_dictionaries({}, optional={k: v | json_values for k, v in valid_values.items()}) | st.dictionaries(
    st.sampled_from(KEYS), json_values, max_size=5
)


@pytest.mark.parametrize("detail_type", sorted(LIFECYCLE_OPERATIONS))
@PROPERTY_SETTINGS
@given(detail=details)
def test_any_lifecycle_detail_is_schema_valid_or_rejected_at_existing_paths(detail_type: str, detail: Any) -> None:
    check(detail_type, detail)


@pytest.mark.parametrize("detail_type", sorted(LIFECYCLE_OPERATIONS))
@PROPERTY_SETTINGS
@given(tenant=valid_values["tenantId"], operation=valid_values["operationId"], tier=valid_values["tier"])
def test_every_valid_lifecycle_request_is_accepted(detail_type: str, tenant: str, operation: str, tier: str) -> None:
    detail = {"tenantId": tenant, "operationId": operation}
    if "tier" in schema(detail_type)[1]:
        detail["tier"] = tier
    assert check(detail_type, detail)
