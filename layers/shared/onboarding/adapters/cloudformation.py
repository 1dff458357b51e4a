"""CloudFormation: a deployed stack's outputs (where the operator CLI finds the tenants table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from onboarding.adapters.aws import translated

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient


def stack_outputs(stack: str, client: CloudFormationClient | None = None) -> dict[str, str]:
    client = client or boto3.client("cloudformation")
    with translated(f"cloudformation:DescribeStacks {stack}"):
        found = client.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", []) if "OutputKey" in o}
