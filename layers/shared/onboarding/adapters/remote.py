"""Adapters of the remote application plane: the customer's account (STS, ECR), CodeBuild, callbacks."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from onboarding.adapters.aws import error_code, translate
from onboarding.errors import ArtifactBuildFailed, ReleaseUnavailable, StorageError, TenantAccessDenied
from onboarding.models import Release

LIFECYCLE_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep the 20 most recent release images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20},
            "action": {"type": "expire"},
        }
    ]
}


class StsTenantAccounts:
    def __init__(self, client: Any = None) -> None:
        self._client = client or boto3.client("sts")

    def assume(self, role_arn: str, external_id: str, session_name: str) -> Mapping[str, str]:
        try:
            credentials = self._client.assume_role(
                RoleArn=role_arn, RoleSessionName=session_name, ExternalId=external_id, DurationSeconds=900
            )["Credentials"]
        except ClientError as exc:
            if error_code(exc) in ("AccessDenied", "AccessDeniedException", "InvalidClientTokenId"):
                raise TenantAccessDenied(exc.response.get("Error", {}).get("Message", "access denied")) from exc
            raise translate(exc, f"sts:AssumeRole {role_arn}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"sts:AssumeRole {role_arn}") from exc
        return {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }


class EcrTenantRegistry:
    """ECR in the tenant's account, through the assumed role's credentials."""

    def __init__(self, credentials: Mapping[str, str], region: str, endpoint_url: str | None = None) -> None:
        self._client = boto3.client("ecr", region_name=region, endpoint_url=endpoint_url, **credentials)  # type: ignore[call-overload]

    def ensure(self, name: str, tags: Mapping[str, str]) -> tuple[str, bool]:
        try:
            repo = self._client.create_repository(
                repositoryName=name,
                imageTagMutability="IMMUTABLE",
                imageScanningConfiguration={"scanOnPush": True},
                encryptionConfiguration={"encryptionType": "AES256"},
                tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            )["repository"]
            created = True
        except ClientError as exc:
            if error_code(exc) != "RepositoryAlreadyExistsException":
                raise translate(exc, f"ecr:CreateRepository {name}") from exc
            repo = self._client.describe_repositories(repositoryNames=[name])["repositories"][0]
            created = False
        except BotoCoreError as exc:
            raise translate(exc, f"ecr:CreateRepository {name}") from exc
        try:
            self._client.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(LIFECYCLE_POLICY))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"ecr:PutLifecyclePolicy {name}") from exc
        return str(repo["repositoryUri"]), created

    def created_by(self, names: list[str], execution: str) -> list[str]:
        """Of ``names``, those tagged as created by ``execution`` (only named repositories are described,
        which is all the tenant's role may describe)."""
        found = []
        for name in names:
            try:
                repo = self._client.describe_repositories(repositoryNames=[name])["repositories"][0]
                tags = self._client.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            except ClientError as exc:
                if error_code(exc) == "RepositoryNotFoundException":
                    continue
                raise translate(exc, f"ecr:DescribeRepositories {name}") from exc
            except BotoCoreError as exc:
                raise translate(exc, f"ecr:DescribeRepositories {name}") from exc
            if {"Key": "execution", "Value": execution} in tags:
                found.append(name)
        return found

    def delete(self, name: str) -> bool:
        try:
            self._client.delete_repository(repositoryName=name, force=True)
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                return False
            raise translate(exc, f"ecr:DeleteRepository {name}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"ecr:DeleteRepository {name}") from exc
        return True


class CodeBuildArtifactBuilds:
    def __init__(self, client: Any = None) -> None:
        self._client = client or boto3.client("codebuild")

    def start(self, project: str, environment: Mapping[str, str]) -> str:
        try:
            build = self._client.start_build(
                projectName=project,
                environmentVariablesOverride=[
                    {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in environment.items()
                ],
            )["build"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"codebuild:StartBuild {project}", ArtifactBuildFailed) from exc
        return str(build["arn"])


class DynamoPendingBuilds:
    """Build id -> task token, until the build's end resumes the execution (expires after a day)."""

    def __init__(self, table: str, client: Any = None) -> None:
        self._table = table
        self._client = client or boto3.client("dynamodb")

    def put(self, build_id: str, task_token: str, tenant_id: str, execution: str) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "buildId": {"S": build_id},
                    "taskToken": {"S": task_token},
                    "tenantId": {"S": tenant_id},
                    "execution": {"S": execution},
                    "expiresAt": {"N": str(int(time.time()) + 86400)},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:PutItem pending build {build_id}") from exc

    def get(self, build_id: str) -> Mapping[str, str] | None:
        try:
            item = self._client.get_item(
                TableName=self._table, Key={"buildId": {"S": build_id}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:GetItem pending build {build_id}") from exc
        return {k: v["S"] for k, v in item.items() if "S" in v} if item else None

    def remove(self, build_id: str) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key={"buildId": {"S": build_id}})
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"dynamodb:DeleteItem pending build {build_id}") from exc


class StepFunctionsCallbacks:
    def __init__(self, client: Any = None) -> None:
        self._client = client or boto3.client("stepfunctions")

    def _send(self, call: str, **kwargs: Any) -> bool:
        try:
            getattr(self._client, call)(**kwargs)
        except ClientError as exc:
            if error_code(exc) in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                return False  # the execution stopped waiting (timeout): nothing to resume
            raise translate(exc, f"states:{call}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"states:{call}") from exc
        return True

    def succeed(self, task_token: str, output: Mapping[str, object]) -> bool:
        return self._send("send_task_success", taskToken=task_token, output=json.dumps(output))

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return self._send("send_task_failure", taskToken=task_token, error=error, cause=cause[:32768])


def read_release(parameter: str, client: Any = None) -> Release:
    """The current release (version, registry, images by digest) from an SSM parameter."""
    client = client or boto3.client("ssm")
    try:
        value = client.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            raise ReleaseUnavailable(f"release parameter {parameter} does not exist") from exc
        raise translate(exc, f"ssm:GetParameter {parameter}", StorageError) from exc
    except BotoCoreError as exc:
        raise translate(exc, f"ssm:GetParameter {parameter}", StorageError) from exc
    try:
        return Release.model_validate_json(value)
    except ValueError as exc:
        raise ReleaseUnavailable(f"release parameter {parameter} is not a valid release: {exc}") from exc
