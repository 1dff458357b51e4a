"""events/steps/ (captured by onboarding_local.step_events from real local runs) against the handlers: one file
per function of template.yaml, each parsed by the model its handler parses its input with, so the files cannot
go stale when a handler's input or the ASL that builds it changes; and env.json against the template."""

from __future__ import annotations

import ast
import importlib.util
import json
from typing import Any

import pytest
from pydantic import BaseModel

from onboarding_local.step_events import function_folders
from tests.conftest import REPO

STEPS = REPO / "events" / "steps"
FOLDERS = function_folders()  # logical id -> folder under functions/


def handler_models(folder: str) -> list[type[BaseModel]]:
    """The models the handler parses ``event`` with: ``parse(event=event, model=M)`` or ``M.model_validate(event)``."""
    source = REPO / "functions" / folder / "app.py"
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        model = keywords.get("model")
        if isinstance(node.func, ast.Name) and node.func.id == "parse" and isinstance(model, ast.Name):
            names.append(model.id)
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "model_validate"
            and isinstance(node.func.value, ast.Name)
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "event"
        ):
            names.append(node.func.value.id)
    spec = importlib.util.spec_from_file_location(f"steps_{folder}", source)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [getattr(module, name) for name in names]


def step_event(folder: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((STEPS / f"{folder}.json").read_text(encoding="utf-8"))
    return event


CAPTURE = "recapture them: .venv/bin/python -m onboarding_local.step_events (see README, sam local invoke)"


def test_every_function_has_a_step_event_and_every_step_event_a_function() -> None:
    assert sorted(p.stem for p in STEPS.glob("*.json")) == sorted(FOLDERS.values()), CAPTURE


@pytest.mark.parametrize("folder", sorted(set(FOLDERS.values()) - {"flux_receiver"}))
def test_each_step_event_parses_with_its_handler_s_input_model(folder: str) -> None:
    models = handler_models(folder)
    assert models, f"functions/{folder}/app.py parses its event with no model this test recognizes"
    for model in models:
        try:
            model.model_validate(step_event(folder))
        except ValueError as exc:
            pytest.fail(f"events/steps/{folder}.json is stale for {model.__name__}: {CAPTURE}\n{exc}")


def test_the_flux_receiver_event_is_a_function_url_request_with_a_signed_flux_event() -> None:
    from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel

    request = LambdaFunctionUrlModel.model_validate(step_event("flux_receiver"))
    assert request.headers["x-signature"].startswith("sha256=") and request.body
    flux_event = json.loads(str(request.body))
    assert {"involvedObject", "reason", "message", "reportingController"} <= flux_event.keys()


def test_a_failure_handler_s_event_carries_the_error_its_state_caught() -> None:
    from onboarding.payloads import StepError

    assert StepError.model_validate(step_event("fail_release")["error"])
    assert "/work/" not in (STEPS / "fail_release.json").read_text(encoding="utf-8")  # paths as on Lambda


# ------------------------------------------------------------------ env.json for sam local invoke --env-vars
def test_env_json_names_every_function_and_exactly_its_template_variables() -> None:
    from onboarding_local.template import Template

    template = Template(REPO / "template.yaml", parameters={"GitOpsRepoUrl": "git://127.0.0.1/gitops.git"})
    env = json.loads((REPO / "env.json").read_text(encoding="utf-8"))
    assert set(env) == set(FOLDERS), "run .venv/bin/python -m onboarding_local.step_events --env-only"
    for logical in FOLDERS:
        expected = set(template.function_environment(logical))
        assert set(env[logical]) == expected, (
            f"{logical}: run .venv/bin/python -m onboarding_local.step_events --env-only"
        )
        assert all(isinstance(v, str) and v for v in env[logical].values()), logical
