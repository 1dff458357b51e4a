"""Reads the GitOps token from Secrets Manager."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from onboarding.adapters.aws import translate
from onboarding.errors import GitRemoteUnavailable

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def read_secret(secret_id: str, client: SecretsManagerClient | None = None) -> str:
    client = client or boto3.client("secretsmanager")
    try:
        return client.get_secret_value(SecretId=secret_id)["SecretString"]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"secretsmanager:GetSecretValue {secret_id}", GitRemoteUnavailable) from exc
