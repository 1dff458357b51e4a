"""Systems Manager hybrid activations (the node image's pre-baked registration for EKS Hybrid Nodes)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from onboarding.adapters.aws import error_code, translate
from onboarding.errors import ActivationFailed

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class SsmHybridActivations:
    def __init__(self, client: SSMClient | None = None) -> None:
        self._client = client or boto3.client("ssm")

    def create(
        self, *, name: str, role: str, registration_limit: int, expires: datetime, tags: Mapping[str, str]
    ) -> tuple[str, str]:
        try:
            response = self._client.create_activation(
                Description=f"EKS Hybrid Nodes of tenant {name}",
                DefaultInstanceName=name,
                IamRole=role,
                RegistrationLimit=registration_limit,
                ExpirationDate=expires,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"ssm:CreateActivation for {name}", ActivationFailed) from exc
        return response["ActivationId"], response["ActivationCode"]

    def delete(self, activation_id: str) -> bool:
        try:
            self._client.delete_activation(ActivationId=activation_id)
        except ClientError as exc:
            if error_code(exc) in ("InvalidActivationId", "InvalidActivation"):
                return False
            raise translate(exc, "ssm:DeleteActivation", ActivationFailed) from exc
        except BotoCoreError as exc:
            raise translate(exc, "ssm:DeleteActivation", ActivationFailed) from exc
        return True
