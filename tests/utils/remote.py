"""Remote tenants as the pipeline tests onboard them: the signup, and the customer account's ECR as the pipeline
reaches it (through the bootstrap role)."""

from __future__ import annotations

from typing import Any

import boto3

from tests.conftest import signup_event

REGION = "eu-west-1"


def remote_signup(signup_id: str, name: str, account: str) -> dict[str, Any]:
    return signup_event(signup_id, name, tier="advanced", deploymentModel="remote", awsAccountId=account, region=REGION)


def tenant_ecr(stack: Any, account: str, tenant_id: str) -> Any:
    """ECR in the customer's account, through the bootstrap role (as the pipeline reaches it)."""
    creds = stack.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/saas-onboarding-{tenant_id}",
        RoleSessionName="test",
        ExternalId=tenant_id,
    )["Credentials"]
    return boto3.client(
        "ecr",
        region_name=REGION,
        endpoint_url=stack.endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def repositories(ecr: Any) -> set[str]:
    return {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}
