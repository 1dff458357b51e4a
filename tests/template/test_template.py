"""The deployable artefacts agree with each other: template, state machine, handlers, errors, contract, code quality."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from onboarding import errors
from onboarding.contract.catalog import INBOUND_DETAIL_TYPES
from onboarding.contract.signup import SignupRequested
from onboarding.schemas import contract_schemas
from onboarding_local.template import load_template

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layers" / "shared" / "onboarding"
BIN = Path(sys.executable).parent
TEMPLATE = load_template(REPO / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
ASL_FILES = sorted((REPO / "statemachines").glob("*.asl.json"))
SCHEMA_DIR = REPO / "schemas" / "v1"
SIGNUP_DETAIL_TYPE = INBOUND_DETAIL_TYPES[SignupRequested]

TRANSIENT = {"TransientError", "GitOpsConflict"}
# A lifecycle operation waits (within a bound) for another one to release the tenant's lock.
WAITS = {"StartOperation": {"TenantBusy"}}


class Roles:
    """Per state machine: the compensating task, and the tasks that record the outcome at the end."""

    def __init__(self, compensate: str, record: str, reject: str | None = None) -> None:
        self.compensate, self.record, self.reject = compensate, record, reject


ROLES = {
    "onboarding.asl.json": Roles(compensate="Compensate", record="RecordFailure"),
    "lifecycle.asl.json": Roles(compensate="RevertGitOps", record="FailOperation", reject="RejectOperation"),
    # a release records its own failure (FailRelease); its waves' tasks are caught by the wave Map's Catch
    "release.asl.json": Roles(compensate="FailRelease", record="FailRelease"),
}
# Words that are one word in a state name although they are capitalised like two.
COMPOUND_WORDS = ("GitOps",)


def run(*args: str | Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run(
        [str(a) for a in args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def report(result: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(result.args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == kind}


def snake_case(name: str) -> str:
    for word in COMPOUND_WORDS:
        name = name.replace(word, word.capitalize())
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def state_machines() -> list[tuple[str, dict[str, Any], Path]]:
    machines = []
    for name, resource in of_type("AWS::Serverless::StateMachine").items():
        uri = resource["Properties"]["DefinitionUri"]
        assert isinstance(uri, str), f"{name}: DefinitionUri must be a local file"
        machines.append((name, resource, REPO / uri))
    return machines


def asl(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def task_states() -> list[tuple[Path, str, dict[str, Any]]]:
    return [
        (path, name, state)
        for path in ASL_FILES
        for name, state in asl(path)["States"].items()
        if state["Type"] == "Task"
    ]


def task_params() -> list[Any]:
    return [pytest.param(path, name, state, id=f"{path.name}:{name}") for path, name, state in task_states()]


def machine_params() -> list[Any]:
    return [pytest.param(*machine, id=machine[0]) for machine in state_machines()]


def domain_names(error_equals: list[str]) -> set[str]:
    return {e for e in error_equals if not e.startswith(("States.", "Lambda."))}


def test_there_is_something_to_check() -> None:
    assert ASL_FILES, "no statemachines/*.asl.json"
    assert state_machines(), "no AWS::Serverless::StateMachine in template.yaml"
    assert task_states(), "no Task states"


# ------------------------------------------------------------------ SAM


def test_sam_validate_lint_passes() -> None:
    result = run(BIN / "sam", "validate", "--lint")
    assert result.returncode == 0, report(result)


def test_sam_build_produces_the_functions_and_a_layer_with_the_package_and_its_dependencies(tmp_path: Path) -> None:
    build = tmp_path / "build"
    # Run from tmp_path so sam's scratch (.aws-sam/deps) stays out of the working tree.
    result = subprocess.run(
        [
            str(BIN / "sam"),
            "build",
            "--template-file",
            str(REPO / "template.yaml"),
            "--base-dir",
            str(REPO),
            "--build-dir",
            str(build),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        cwd=tmp_path,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, report(result)
    layer = build / "SharedLayer" / "python"
    assert (layer / "onboarding" / "__init__.py").is_file(), f"onboarding package missing from {layer}"
    assert (layer / "pydantic").is_dir(), f"pydantic missing from {layer}"
    # arm64 functions need the aarch64 build of pydantic's compiled core.
    assert list((layer / "pydantic_core").glob("*aarch64*.so")), "pydantic_core is not built for arm64"
    for name in of_type("AWS::Serverless::Function"):
        assert (build / name / "app.py").is_file(), f"{name} has no app.py in the build"
    shipped = {p.relative_to(layer / "onboarding") for p in (layer / "onboarding").rglob("*.py")}
    missing = {p.relative_to(LAYER) for p in LAYER.rglob("*.py")} - shipped
    assert not missing, f"sam build left modules out of the layer: {sorted(map(str, missing))}"


# ------------------------------------------------------------------ state machine <-> template


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_every_asl_file_is_deployed_by_a_state_machine(path: Path) -> None:
    assert path in [definition for _, _, definition in state_machines()], f"{path.name} is not used in template.yaml"


@pytest.mark.parametrize(("name", "resource", "path"), machine_params())
def test_definition_substitutions_match_the_placeholders_of_the_definition(
    name: str, resource: dict[str, Any], path: Path
) -> None:
    used = set(re.findall(r"\$\{([^}]+)\}", path.read_text(encoding="utf-8")))
    defined = set(resource["Properties"].get("DefinitionSubstitutions", {}))
    assert used - defined == set(), f"{path.name} uses placeholders {name} does not substitute"
    assert defined - used == set(), f"{name} has DefinitionSubstitutions {path.name} never uses"


def test_every_function_handler_exists_imports_and_exposes_lambda_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tenant-onboarding")
    default_handler = TEMPLATE.get("Globals", {}).get("Function", {}).get("Handler")
    functions = of_type("AWS::Serverless::Function")
    assert functions
    for name, resource in functions.items():
        props = resource["Properties"]
        code = REPO / props["CodeUri"]
        module_name, _, attribute = (props.get("Handler") or default_handler).rpartition(".")
        source = code / (module_name.replace(".", "/") + ".py")
        assert source.is_file(), f"{name}: handler module {source} does not exist"
        spec = importlib.util.spec_from_file_location(f"_handler_{name}", source)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handler = getattr(module, attribute, None)
        assert callable(handler), f"{name}: {source} has no callable {attribute}"
        assert attribute == "lambda_handler"


def test_every_function_folder_is_deployed() -> None:
    deployed = {(REPO / r["Properties"]["CodeUri"]).resolve() for r in of_type("AWS::Serverless::Function").values()}
    folders = {p.resolve() for p in (REPO / "functions").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders - deployed == set(), "function folders no template resource uses"


# ------------------------------------------------------------------ errors, retries, catches


def test_every_error_name_the_state_machine_routes_on_is_a_domain_exception() -> None:
    names: set[str] = set()
    for path in ASL_FILES:
        for state in asl(path)["States"].values():
            for rule in [*state.get("Retry", []), *state.get("Catch", [])]:
                names |= domain_names(rule["ErrorEquals"])
            result = state.get("Result")
            if state["Type"] == "Pass" and isinstance(result, dict) and "Error" in result:
                names.add(result["Error"])  # errors a Pass state raises for a later Catch/RecordFailure
    assert names, "the state machine routes on no domain error"
    for name in sorted(names):
        cls = getattr(errors, name, None)
        assert inspect.isclass(cls), f"{name} is not defined in onboarding.errors"
        assert issubclass(cls, errors.OnboardingError), f"{name} is not an OnboardingError"


def test_the_transient_errors_are_the_ones_the_state_machine_retries() -> None:
    assert {cls.__name__ for cls in errors.TRANSIENT_ERRORS} == TRANSIENT


@pytest.mark.parametrize(("path", "name", "state"), task_params())
def test_every_task_retries_only_transient_domain_errors(path: Path, name: str, state: dict[str, Any]) -> None:
    assert state.get("Retry"), f"{name} has no Retry"
    waits = WAITS.get(name, set())
    for rule in state["Retry"]:
        retried = domain_names(rule["ErrorEquals"])
        assert "States.ALL" not in rule["ErrorEquals"], f"{name} retries everything, permanent errors included"
        if retried <= waits:
            assert rule["MaxAttempts"] <= 10, f"{name} waits without a bound"
            continue
        assert retried <= TRANSIENT, f"{name} retries permanent errors {sorted(retried - TRANSIENT)}"
    assert any("TransientError" in rule["ErrorEquals"] for rule in state["Retry"]), (
        f"{name} does not retry TransientError"
    )


def _function_of(state: dict[str, Any]) -> str:
    placeholder = state["Parameters"]["FunctionName"]
    match = re.fullmatch(r"\$\{(\w+)FunctionArn\}", placeholder)
    assert match, f"FunctionName {placeholder!r} is not a ${{<Step>FunctionArn}} substitution"
    return match.group(1)


@pytest.mark.parametrize(("path", "name", "state"), task_params())
def test_tasks_that_write_to_gitops_retry_a_moving_branch(path: Path, name: str, state: dict[str, Any]) -> None:
    function = RESOURCES[f"{_function_of(state)}Function"]
    writes_gitops = "GITOPS_REPO_URL" in function["Properties"].get("Environment", {}).get("Variables", {})
    retries_conflict = any("GitOpsConflict" in rule["ErrorEquals"] for rule in state["Retry"])
    assert retries_conflict == writes_gitops, f"{name}: GitOpsConflict retried={retries_conflict}, git={writes_gitops}"


@pytest.mark.parametrize(("path", "name", "state"), task_params())
def test_every_task_failure_is_caught_and_recorded(path: Path, name: str, state: dict[str, Any]) -> None:
    states = asl(path)["States"]
    roles = ROLES[path.name]
    if name == roles.record:
        assert "Catch" not in state, f"{name} must fail the execution when it cannot record"
        assert states[state["Next"]]["Type"] == "Fail"
        return
    if name == roles.reject:
        # a rejection changed nothing: it is announced and the execution succeeds
        assert "Catch" not in state and states[state["Next"]]["Type"] == "Succeed"
        return
    catches = state.get("Catch", [])
    assert catches, f"{name} has no Catch"
    catch_all = [c for c in catches if "States.ALL" in c["ErrorEquals"]]
    assert catch_all, f"{name} does not catch States.ALL"
    assert catches[-1] is catch_all[0], f"{name}: States.ALL must be the last Catch"
    if name == roles.compensate:
        # A failed compensation is still recorded (and must not loop back into compensation).
        assert catch_all[0]["Next"] == roles.record
        assert catch_all[0]["ResultPath"] != "$.error", "the original error must survive a failed compensation"
        return
    for waited in WAITS.get(name, set()):
        assert any(waited in c["ErrorEquals"] and c["Next"] == roles.reject for c in catches), (
            f"{name}: {waited} past its bound must be rejected, not compensated"
        )
    failed = f"{name} failed"
    assert catch_all[0]["Next"] == failed
    assert catch_all[0]["ResultPath"] == "$.error"
    marker = states[failed]
    assert marker["Type"] == "Pass"
    assert marker["Result"] == name
    assert marker["ResultPath"] == "$.failedStep"
    assert marker["Next"] == roles.compensate


def test_every_state_machine_has_roles() -> None:
    assert {p.name for p in ASL_FILES} == set(ROLES)


@pytest.mark.parametrize(("path", "name", "state"), task_params())
def test_every_task_uses_the_same_words_for_state_function_folder_and_domain_module(
    path: Path, name: str, state: dict[str, Any]
) -> None:
    step = _function_of(state)
    assert step == name, f"state {name} invokes {step}Function"
    words = snake_case(step)
    machine = next(r for _, r, p in state_machines() if p == path)
    substitution = machine["Properties"]["DefinitionSubstitutions"][f"{step}FunctionArn"]
    assert substitution == {"Fn::GetAtt": [f"{step}Function", "Arn"]}
    assert RESOURCES[f"{step}Function"]["Properties"]["CodeUri"].rstrip("/") == f"functions/{words}"
    assert (REPO / "functions" / words / "app.py").is_file()
    assert (LAYER / "steps" / f"{words}.py").is_file(), f"no onboarding/steps/{words}.py"


def test_every_function_folder_has_its_step_module_and_nothing_else_is_a_step() -> None:
    folders = {p.parent.name for p in (REPO / "functions").glob("*/app.py")}
    steps = {p.stem for p in (LAYER / "steps").glob("*.py")} - {"__init__"}
    assert folders == steps


def test_steps_package_is_empty_so_each_function_imports_only_its_own_step() -> None:
    assert (LAYER / "steps" / "__init__.py").read_text().strip() == ""


@pytest.mark.parametrize("path", sorted((LAYER / "steps").glob("*.py")), ids=lambda p: p.stem)
def test_a_step_never_imports_another_step(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("onboarding.steps")
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("onboarding.steps")
    }
    assert not imported, f"{path.name} imports {sorted(imported)}: shared helpers belong in a module of their own"


@pytest.mark.parametrize("path", sorted(LAYER.rglob("*.py")), ids=lambda p: str(p.relative_to(LAYER)))
def test_every_layer_module_stays_under_300_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) < 300


@pytest.mark.parametrize("path", sorted(LAYER.rglob("*.py")), ids=lambda p: str(p.relative_to(LAYER)))
def test_the_domain_imports_no_sdk_outside_the_adapters(path: Path) -> None:
    if "adapters" in path.parts or path.name == "runtime.py":  # runtime.py is the composition root
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names} | {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    sdk = {m for m in modules if m.split(".")[0] in ("boto3", "botocore", "dulwich")}
    assert not sdk, f"{path.name} imports {sorted(sdk)}: only adapters talk to SDKs"


def test_snake_case_keeps_compound_words_whole() -> None:
    assert snake_case("RegisterTenant") == "register_tenant"
    assert snake_case("CommitGitOps") == "commit_gitops"
    assert snake_case("RecordFailure") == "record_failure"


# ------------------------------------------------------------------ operations


def _alarms_on(namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == namespace and a["Properties"].get("MetricName") == metric
    ]


def test_failed_executions_raise_an_alarm() -> None:
    machines = [name for name, _, _ in state_machines()]
    alarms = _alarms_on("AWS/States", "ExecutionsFailed")
    watched = {d["Value"]["Ref"] for a in alarms for d in a["Dimensions"] if d["Name"] == "StateMachineArn"}
    assert set(machines) <= watched, f"state machines without an ExecutionsFailed alarm: {set(machines) - watched}"


def signup_rule() -> dict[str, Any]:
    events = RESOURCES["IntakeFunction"]["Properties"]["Events"]
    rules = [e["Properties"] for e in events.values() if e["Type"] == "EventBridgeRule"]
    assert len(rules) == 1, "IntakeFunction must have exactly one EventBridge rule"
    return rules[0]


def test_the_signup_rule_retries_and_dead_letters_undeliverable_events() -> None:
    rule = signup_rule()
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert rule["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 60
    queue = rule["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert RESOURCES[queue]["Type"] == "AWS::SQS::Queue"


def test_the_dead_letter_queue_raises_an_alarm() -> None:
    queue = signup_rule()["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    alarms = _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    watched = [d["Value"] for a in alarms for d in a["Dimensions"] if d["Name"] == "QueueName"]
    assert {"Fn::GetAtt": [queue, "QueueName"]} in watched, f"no alarm on messages in {queue}"


def test_the_signup_rule_matches_the_signup_source_and_detail_type() -> None:
    pattern = signup_rule()["Pattern"]
    assert pattern["source"] == [{"Ref": "SignupEventSource"}]
    assert TEMPLATE["Parameters"]["SignupEventSource"]["Default"] == "saas.signup"
    assert pattern["detail-type"] == ["Tenant Signup Requested"]
    assert pattern["detail-type"] == [SIGNUP_DETAIL_TYPE]


# ------------------------------------------------------------------ event contract


def test_committed_json_schemas_match_the_contract_models() -> None:
    generated = contract_schemas()
    committed = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMA_DIR.glob("*.json"))}
    hint = "schemas/v1 is out of date with onboarding.contract: run `make schemas` and commit the result"
    assert sorted(committed) == sorted(generated), hint
    for name, schema in generated.items():
        assert committed[name] == json.loads(json.dumps(schema)), f"{name}: {hint}"


def signup_samples() -> list[Path]:
    return [
        p
        for p in sorted((REPO / "events").glob("*.json"))
        if json.loads(p.read_text(encoding="utf-8")).get("detail-type") == SIGNUP_DETAIL_TYPE
    ]


@pytest.mark.parametrize("path", signup_samples(), ids=lambda p: p.name)
def test_sample_signups_follow_the_published_schema(path: Path) -> None:
    schema = json.loads((SCHEMA_DIR / "tenant-signup-requested.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    detail = json.loads(path.read_text(encoding="utf-8"))["detail"]
    problems = [e.message for e in Draft202012Validator(schema).iter_errors(detail)]
    if path.name == "signup-invalid.json":
        assert problems, "the invalid sample validates: the schema lost a constraint"
    else:
        assert problems == [], f"{path.name}: {problems}"


def test_the_samples_include_the_invalid_signup() -> None:
    assert "signup-invalid.json" in [p.name for p in signup_samples()]


# ------------------------------------------------------------------ code quality


def test_ruff_check_passes() -> None:
    result = run(BIN / "ruff", "check", ".")
    assert result.returncode == 0, report(result)


def test_ruff_format_check_passes() -> None:
    result = run(BIN / "ruff", "format", "--check", ".")
    assert result.returncode == 0, report(result)


def test_mypy_passes() -> None:
    result = run(BIN / "mypy", "layers/shared", "local", "functions", "tests")
    assert result.returncode == 0, report(result)


LAMBDA_PROVIDED = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME"}


@pytest.mark.parametrize("logical", sorted(of_type("AWS::Serverless::Function")))
def test_every_function_gets_the_configuration_its_settings_require(logical: str) -> None:
    """What a handler's settings require must be in that function's own environment on AWS."""
    code_uri = RESOURCES[logical]["Properties"]["CodeUri"].rstrip("/")
    source = (REPO / code_uri / "app.py").read_text()
    (name,) = set(re.findall(r"(\w+Settings)\(\)", source))
    (module,) = [
        node.module
        for node in ast.parse(source).body
        if isinstance(node, ast.ImportFrom) and node.module and any(alias.name == name for alias in node.names)
    ]
    cls = getattr(importlib.import_module(module), name)
    glob = TEMPLATE.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = RESOURCES[logical]["Properties"].get("Environment", {}).get("Variables", {})
    provided = {k.upper() for k in {**glob, **own}} | LAMBDA_PROVIDED
    required = {field.upper() for field, info in cls.model_fields.items() if info.is_required()}
    assert required <= provided, f"{logical} ({name}) lacks {sorted(required - provided)} in template.yaml"


# What each runtime factory calls on AWS, and how the template must grant it.
GRANTS = {
    "remote_accounts(": ["sts:AssumeRole"],
    "hybrid_adapters(": ["secretsmanager:GetSecretValue", "S3CrudPolicy"],
    "artifact_builds(": ["codebuild:StartBuild"],
    "build_results(": ["codebuild:BatchGetBuilds"],
    "pending_builds(": ["PendingBuildsTable"],
    "gitops_writer(": ["GitOpsQueueTable"],
    "task_callbacks(": ["states:SendTaskSuccess", "states:SendTaskFailure"],
    "release(settings": ["ssm:GetParameter"],
    "execution_starter(": ["StepFunctionsExecutionPolicy"],
    "Takeover(": ["states:DescribeExecution", "ssm:PutParameter", "sts:AssumeRole"],
    "gitops_repository(": ["GitOpsTokenSecretArn"],
    "event_publisher(": ["EventBridgePutEventsPolicy"],
    "idempotency_store(": ["IdempotencyTable"],
    "network_claims_table": ["NetworkClaimsTable"],
    "tenant_store(": ["TenantsTable"],
}


@pytest.mark.parametrize("logical", sorted(of_type("AWS::Serverless::Function")))
def test_every_function_is_granted_what_its_handler_calls(logical: str) -> None:
    """moto enforces no IAM: a missing grant passes locally and fails on AWS, so check it as data."""
    props = RESOURCES[logical]["Properties"]
    source = (REPO / props["CodeUri"].rstrip("/") / "app.py").read_text()
    policies = json.dumps(props.get("Policies", []))
    missing = [grant for call, grants in GRANTS.items() if call in source for grant in grants if grant not in policies]
    assert not missing, f"{logical} calls AWS APIs its Policies do not grant: {missing}"


# ------------------------------------------------------------------ operating on AWS: alarms and the dashboard
def test_every_alarm_notifies_the_alarm_topic() -> None:
    alarms = {name: res for name, res in RESOURCES.items() if res["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 8
    for name, alarm in alarms.items():
        assert alarm["Properties"].get("AlarmActions") == [{"Ref": "AlarmTopic"}], name


def test_every_function_is_watched_for_errors_and_throttles() -> None:
    functions = {name for name, res in RESOURCES.items() if res["Type"] == "AWS::Serverless::Function"}
    for metric in ("Errors", "Throttles"):
        watched = {
            m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
            for res in RESOURCES.values()
            if res["Type"] == "AWS::CloudWatch::Alarm"
            for m in res["Properties"].get("Metrics", [])
            if "MetricStat" in m and m["MetricStat"]["Metric"]["MetricName"] == metric
        }
        assert watched == functions, metric


def emitted_metrics() -> set[str]:
    """Metric names the code emits with Powertools (add_metric(name="...")), static or f-string prefixes."""
    names: set[str] = set()
    for path in [*(REPO / "functions").rglob("*.py"), *LAYER.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'(?:add_metric|single_metric)\(\s*name=f?"([A-Za-z]+)', text))
    return names


def test_every_metric_the_dashboard_reads_is_emitted_by_the_code() -> None:
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    dashboard = json.loads(body)
    read = set(re.findall(r'\{TenantOnboarding,[^}]*\} MetricName=\\?"(\w+)\\?"', json.dumps(dashboard)))
    assert {"TenantsOnboarded", "OnboardingDuration", "OnboardingsFailed", "FluxVerdictFailures"} <= read
    missing = read - emitted_metrics()
    assert not missing, f"the dashboard reads metrics nothing emits: {sorted(missing)}"
    # durations and counts are charted by tier and deployment model, as the code's dimensions say
    activate = (REPO / "functions" / "activate_tenant" / "app.py").read_text(encoding="utf-8")
    assert '{"tier": step.signup.tier.value, "deploymentModel": step.signup.model.value}' in activate
