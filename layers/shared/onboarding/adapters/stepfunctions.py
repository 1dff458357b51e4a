"""Step Functions: starting executions (the execution name is the idempotency key), whether one still runs, and
task-token callbacks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.release_ended import ExecutionStatus

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

    def execution_arn(self, name: str) -> str:
        """arn:...:stateMachine:M -> arn:...:execution:M:name (the ARN StartExecution gave that name)."""
        prefix, _, machine = self._arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def status(self, name: str) -> ExecutionStatus:
        """DescribeExecution's status of this state machine's execution ``name``; MISSING when there is none."""
        with translated(f"states:DescribeExecution {name}"):
            try:
                reply = self._client.describe_execution(executionArn=self.execution_arn(name))
            except ClientError as exc:
                if error_code(exc) == "ExecutionDoesNotExist":
                    return ExecutionStatus.MISSING
                raise
        status = str(reply["status"])
        # a status this code does not know yet is taken as running: nothing is taken over from it
        return ExecutionStatus(status) if status in ExecutionStatus.__members__ else ExecutionStatus.RUNNING


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
