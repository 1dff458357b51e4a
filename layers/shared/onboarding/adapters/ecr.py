"""ECR in the tenant's account, through the assumed role's credentials."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.errors import TransientError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

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
NOT_FOUND = "RepositoryNotFoundException"


class EcrTenantRegistry:
    def __init__(self, credentials: Mapping[str, str], region: str, endpoint_url: str | None = None) -> None:
        self._client: ECRClient = boto3.client("ecr", region_name=region, endpoint_url=endpoint_url, **credentials)  # type: ignore[call-overload]

    def _describe(self, name: str) -> dict[str, Any] | None:
        with translated(f"ecr:DescribeRepositories {name}"):
            try:
                return dict(self._client.describe_repositories(repositoryNames=[name])["repositories"][0])
            except ClientError as exc:
                if error_code(exc) == NOT_FOUND:
                    return None
                raise

    def ensure(self, name: str, tags: Mapping[str, str], *, mutable: bool = False) -> tuple[str, bool]:
        repo: dict[str, Any] | None = None
        with translated(f"ecr:CreateRepository {name}"):
            try:
                repo = dict(
                    self._client.create_repository(
                        repositoryName=name,
                        imageTagMutability="MUTABLE" if mutable else "IMMUTABLE",
                        imageScanningConfiguration={"scanOnPush": True},
                        encryptionConfiguration={"encryptionType": "AES256"},
                        tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                    )["repository"]
                )
            except ClientError as exc:
                if error_code(exc) != "RepositoryAlreadyExistsException":
                    raise
        created = repo is not None
        repo = repo or self._describe(name)
        if repo is None:  # deleted between the two calls: let the state machine retry
            raise TransientError(f"ecr repository {name} vanished while being ensured")
        with translated(f"ecr:PutLifecyclePolicy {name}"):
            self._client.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(LIFECYCLE_POLICY))
        return str(repo["repositoryUri"]), created

    def created_by(self, names: list[str], execution: str) -> list[str]:
        """Of ``names``, those tagged as created by ``execution`` (only named repositories are described,
        which is all the tenant's role may describe)."""
        found = []
        for name in names:
            repo = self._describe(name)
            if repo is None:
                continue
            with translated(f"ecr:ListTagsForResource {name}"):
                tags = self._client.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            if {"Key": "execution", "Value": execution} in tags:
                found.append(name)
        return found

    def delete(self, name: str) -> bool:
        with translated(f"ecr:DeleteRepository {name}"):
            try:
                self._client.delete_repository(repositoryName=name, force=True)
            except ClientError as exc:
                if error_code(exc) == NOT_FOUND:
                    return False
                raise
        return True
