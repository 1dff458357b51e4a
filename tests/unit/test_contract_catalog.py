"""The catalog (the schema generator's only input) holds exactly the models that travel as an event's detail.

A model names its own detail-type (``DETAIL_TYPE``), and the publisher sends it under that name; a model with one
that the catalog missed would be published with no schema, and a shared name would make two schemas one file.
"""

from __future__ import annotations

import importlib

from onboarding.contract.catalog import INBOUND_DETAIL_TYPES, OUTBOUND_DETAIL_TYPES
from onboarding.contract.common import ContractModel

MODULES = ("common", "signup", "lifecycle", "release", "sbt")


def every_contract_model() -> set[type[ContractModel]]:
    for module in MODULES:
        importlib.import_module(f"onboarding.contract.{module}")
    found: set[type[ContractModel]] = set()
    pending = [ContractModel]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub.__module__.startswith("onboarding.contract.") and sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def test_the_catalog_holds_every_model_that_names_a_detail_type_and_no_other() -> None:
    models = every_contract_model()
    named = {model for model in models if "DETAIL_TYPE" in vars(model)}
    assert named == set(OUTBOUND_DETAIL_TYPES) | set(INBOUND_DETAIL_TYPES)
    assert not set(OUTBOUND_DETAIL_TYPES) & set(INBOUND_DETAIL_TYPES)
    # a subclass would otherwise travel under its parent's name
    assert [model.__name__ for model in models - named if hasattr(model, "DETAIL_TYPE")] == []


def test_each_detail_type_is_its_model_s_own_and_used_once() -> None:
    catalog = {**OUTBOUND_DETAIL_TYPES, **INBOUND_DETAIL_TYPES}
    assert {model: model.DETAIL_TYPE for model in catalog} == catalog
    assert len(set(catalog.values())) == len(catalog)
