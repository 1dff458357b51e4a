"""STS: credentials in the customer's account, through its onboarding role and the tenant's ExternalId."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.errors import TenantAccessDenied

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

DENIED = frozenset({"AccessDenied", "AccessDeniedException", "InvalidClientTokenId"})


class StsTenantAccounts:
    def __init__(self, client: STSClient | None = None) -> None:
        self._client: STSClient = client or boto3.client("sts")

    def assume(self, role_arn: str, external_id: str, session_name: str) -> Mapping[str, str]:
        with translated(f"sts:AssumeRole {role_arn}"):
            try:
                credentials = self._client.assume_role(
                    RoleArn=role_arn, RoleSessionName=session_name, ExternalId=external_id, DurationSeconds=900
                )["Credentials"]
            except ClientError as exc:
                if error_code(exc) in DENIED:
                    raise TenantAccessDenied(exc.response.get("Error", {}).get("Message", "access denied")) from exc
                raise
        return {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
