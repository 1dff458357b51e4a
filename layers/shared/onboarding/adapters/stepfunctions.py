"""Starts onboarding executions, with the execution name as the idempotency key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from onboarding.adapters.aws import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, client: SFNClient | None = None) -> None:
        self._arn = state_machine_arn
        self._client = client or boto3.client("stepfunctions")

    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        try:
            self._client.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return False
            raise translate(exc, "states:StartExecution") from exc
        except BotoCoreError as exc:
            raise translate(exc, "states:StartExecution") from exc
        return True
