"""Secrets Manager: the GitOps token (read) and per-tenant secrets such as hybrid activations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.errors import GitRemoteUnavailable

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def read_secret(secret_id: str, client: SecretsManagerClient | None = None) -> str:
    client = client or boto3.client("secretsmanager")
    with translated(f"secretsmanager:GetSecretValue {secret_id}", GitRemoteUnavailable):
        return client.get_secret_value(SecretId=secret_id)["SecretString"]


class SecretsManagerStore:
    def __init__(self, client: SecretsManagerClient | None = None) -> None:
        self._client: SecretsManagerClient = client or boto3.client("secretsmanager")

    def put(self, name: str, value: str, tags: Mapping[str, str]) -> str:
        with translated(f"secretsmanager:CreateSecret {name}"):
            try:
                return self._client.create_secret(
                    Name=name, SecretString=value, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
                )["ARN"]
            except ClientError as exc:
                if error_code(exc) != "ResourceExistsException":
                    raise
        with translated(f"secretsmanager:PutSecretValue {name}"):  # a retried invocation: overwrite its own secret
            return self._client.put_secret_value(SecretId=name, SecretString=value)["ARN"]

    def read(self, secret_id: str) -> str | None:
        with translated(f"secretsmanager:GetSecretValue {secret_id}"):
            try:
                return self._client.get_secret_value(SecretId=secret_id)["SecretString"]
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return None
                raise

    def delete(self, secret_id: str) -> bool:
        with translated(f"secretsmanager:DeleteSecret {secret_id}"):
            try:
                self._client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return False
                raise
        return True
