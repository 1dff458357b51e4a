"""A stopped local stack leaves its process as it found it: environment, boto3's default session, moto's
classes, logger levels and streams, and no fault hook, so the next test in the same worker starts clean."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from onboarding.observability import logger as handler_logger
from onboarding_local.stack import LocalStack


def patched_methods() -> dict[str, Any]:
    """What moto's patched attributes resolve to now (the function itself, or None when absent)."""
    import botocore.session
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse
    from moto.events.models import EventsBackend, Rule
    from moto.ssm.responses import SimpleSystemManagerResponse
    from moto.stepfunctions.responses import StepFunctionResponse
    from moto.sts.models import STSBackend

    owners_and_names: list[tuple[Any, str]] = [
        (LambdaSimpleBackend, "invoke"),
        (Rule, "send_to_targets"),
        (EventsBackend, "put_events"),
        (StepFunctionResponse, "send_task_failure"),
        (STSBackend, "assume_role"),
        (CodeBuildResponse, "start_build"),
        (CodeBuildBackend, "batch_get_builds"),
        (SimpleSystemManagerResponse, "create_activation"),
        (SimpleSystemManagerResponse, "describe_activations"),
        (SimpleSystemManagerResponse, "delete_activation"),
        (botocore.session, "create_loader"),
    ]
    return {f"{owner.__name__}.{name}": getattr(owner, name, None) for owner, name in owners_and_names}


def handler_streams() -> list[Any]:
    return [h.stream for h in logging.getLogger(handler_logger.name).handlers if isinstance(h, logging.StreamHandler)]


def test_a_stopped_stack_puts_back_what_it_changed_in_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a process with its own region, no endpoint, a default session of its own, and moto as imported
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3.session.Session())
    env_before = dict(os.environ)
    session_before = boto3.DEFAULT_SESSION
    methods_before = patched_methods()
    levels_before = {name: logging.getLogger(name).level for name in ("werkzeug", "moto")}
    streams_before = handler_streams()

    # When: a stack runs (its changes are in place while it does) and stops
    with LocalStack(tmp_path / "stack") as stack:
        assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint and os.environ["AWS_REGION"] == "us-east-1"
        assert boto3.DEFAULT_SESSION is not session_before
        during = patched_methods()
        assert all(during[name] is not before for name, before in methods_before.items()), during
        stack_session = boto3.DEFAULT_SESSION
        assert stack_session is not None
        kept = stack_session.client(  # a client made while the stack ran, and kept: its calls were in the thread
            "dynamodb", endpoint_url=stack.endpoint, config=Config(retries={"max_attempts": 1}, connect_timeout=1)
        )
        assert kept.list_tables()["TableNames"]
        stack.inject_fault("sts", "GetCallerIdentity", "InjectedFault", times=100)

    # Then: everything is as it was
    assert dict(os.environ) == env_before
    assert boto3.DEFAULT_SESSION is session_before
    assert patched_methods() == methods_before
    assert {name: logging.getLogger(name).level for name in ("werkzeug", "moto")} == levels_before
    assert handler_streams() == streams_before
    with pytest.raises(EndpointConnectionError):  # the kept client now reaches the stopped server, not moto
        kept.list_tables()
    # and the fault hook is off the stack's session: the call goes to the (closed) endpoint instead
    sts = stack_session.client(
        "sts",
        endpoint_url="http://127.0.0.1:1",
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(EndpointConnectionError):
        sts.get_caller_identity()


def test_a_stack_starts_again_in_the_same_process(tmp_path: Path) -> None:
    # Given: a stack that ran and stopped
    with LocalStack(tmp_path / "first"):
        pass
    # When: another one starts, and Lambda is invoked through moto
    with LocalStack(tmp_path / "second") as stack:
        stack.client("lambda").invoke(FunctionName="ActivateTenantFunction", Payload=b"{}")
        # Then: moto's Lambda is patched again and ran the real handler in-process
        assert stack.runtime.counts["ActivateTenantFunction"] == 1
