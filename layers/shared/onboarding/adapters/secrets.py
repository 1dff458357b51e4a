"""Secrets Manager: the GitOps token (read) and per-tenant secrets such as hybrid activations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from onboarding.adapters.aws import error_code, translate
from onboarding.errors import GitRemoteUnavailable, StorageError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def read_secret(secret_id: str, client: SecretsManagerClient | None = None) -> str:
    client = client or boto3.client("secretsmanager")
    try:
        return client.get_secret_value(SecretId=secret_id)["SecretString"]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"secretsmanager:GetSecretValue {secret_id}", GitRemoteUnavailable) from exc


class SecretsManagerStore:
    def __init__(self, client: SecretsManagerClient | None = None) -> None:
        self._client = client or boto3.client("secretsmanager")

    def put(self, name: str, value: str, tags: Mapping[str, str]) -> str:
        try:
            response = self._client.create_secret(
                Name=name, SecretString=value, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            )
            return response["ARN"]
        except ClientError as exc:
            if error_code(exc) != "ResourceExistsException":
                raise translate(exc, f"secretsmanager:CreateSecret {name}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"secretsmanager:CreateSecret {name}") from exc
        try:  # a retried invocation: overwrite this execution's own secret
            return self._client.put_secret_value(SecretId=name, SecretString=value)["ARN"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"secretsmanager:PutSecretValue {name}") from exc

    def read(self, secret_id: str) -> str | None:
        try:
            return self._client.get_secret_value(SecretId=secret_id)["SecretString"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise translate(exc, f"secretsmanager:GetSecretValue {secret_id}", StorageError) from exc
        except BotoCoreError as exc:
            raise translate(exc, f"secretsmanager:GetSecretValue {secret_id}", StorageError) from exc

    def delete(self, secret_id: str) -> bool:
        try:
            self._client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise translate(exc, f"secretsmanager:DeleteSecret {secret_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"secretsmanager:DeleteSecret {secret_id}") from exc
        return True
