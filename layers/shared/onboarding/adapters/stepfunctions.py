"""Step Functions: starting executions (the execution name is the idempotency key) and task-token callbacks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, client: SFNClient | None = None) -> None:
        self._arn = state_machine_arn
        self._client: SFNClient = client or boto3.client("stepfunctions")

    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        with translated("states:StartExecution"):
            try:
                self._client.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
            except ClientError as exc:
                if error_code(exc) == "ExecutionAlreadyExists":
                    return False
                raise
        return True


class StepFunctionsCallbacks:
    """Resumes a waiting execution; False when it no longer waits (timed out or stopped)."""

    def __init__(self, client: SFNClient | None = None) -> None:
        self._client: SFNClient = client or boto3.client("stepfunctions")

    def succeed(self, task_token: str, output: Mapping[str, object]) -> bool:
        with translated("states:SendTaskSuccess"):
            try:
                self._client.send_task_success(taskToken=task_token, output=json.dumps(output))
            except ClientError as exc:
                if error_code(exc) in GONE:
                    return False
                raise
        return True

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        with translated("states:SendTaskFailure"):
            try:
                self._client.send_task_failure(taskToken=task_token, error=error, cause=cause[:32768])
            except ClientError as exc:
                if error_code(exc) in GONE:
                    return False
                raise
        return True
