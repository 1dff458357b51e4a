"""Systems Manager: hybrid activations (EKS Hybrid Nodes registration) and the release parameter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError

from onboarding.adapters.aws import error_code, translated
from onboarding.errors import ActivationFailed, ReleaseUnavailable
from onboarding.ports import ActivationInfo
from onboarding.records import Release

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class SsmHybridActivations:
    def __init__(self, client: SSMClient | None = None) -> None:
        self._client: SSMClient = client or boto3.client("ssm")

    def create(
        self, *, name: str, role: str, registration_limit: int, expires: datetime, tags: Mapping[str, str]
    ) -> tuple[str, str]:
        with translated(f"ssm:CreateActivation for {name}", ActivationFailed):
            response = self._client.create_activation(
                Description=f"EKS Hybrid Nodes of tenant {name}",
                DefaultInstanceName=name,
                IamRole=role,
                RegistrationLimit=registration_limit,
                ExpirationDate=expires,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            )
        return response["ActivationId"], response["ActivationCode"]

    def find(self, *, name: str, tags: Mapping[str, str]) -> list[ActivationInfo]:
        """DescribeActivations filters only by ActivationIds, DefaultInstanceName or IamRole: the name narrows
        the listing on the service's side, and the tags (returned per activation) are matched here."""
        found = []
        with translated(f"ssm:DescribeActivations for {name}", ActivationFailed):
            pages = self._client.get_paginator("describe_activations").paginate(
                Filters=[{"FilterKey": "DefaultInstanceName", "FilterValues": [name]}]
            )
            for page in pages:
                for item in page.get("ActivationList", []):
                    carried = {tag["Key"]: tag["Value"] for tag in item.get("Tags", [])}
                    if item.get("DefaultInstanceName") == name and all(carried.get(k) == v for k, v in tags.items()):
                        found.append(
                            ActivationInfo(
                                activation_id=item["ActivationId"], tags=carried, expired=bool(item.get("Expired"))
                            )
                        )
        return found

    def delete(self, activation_id: str) -> bool:
        with translated("ssm:DeleteActivation", ActivationFailed):
            try:
                self._client.delete_activation(ActivationId=activation_id)
            except ClientError as exc:
                if error_code(exc) in ("InvalidActivationId", "InvalidActivation"):
                    return False
                raise
        return True


def read_release(parameter: str, client: SSMClient | None = None) -> Release:
    """The current release (version, registry, images by digest) from an SSM parameter."""
    client = client or boto3.client("ssm")
    with translated(f"ssm:GetParameter {parameter}"):
        try:
            value = client.get_parameter(Name=parameter)["Parameter"]["Value"]
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                raise ReleaseUnavailable(f"release parameter {parameter} does not exist") from exc
            raise
    try:
        return Release.model_validate_json(value)
    except ValueError as exc:
        raise ReleaseUnavailable(f"release parameter {parameter} is not a valid release: {exc}") from exc


class SsmReleaseParameter:
    """The release parameter, read and rewritten (a fleet release moves it to its chart version)."""

    def __init__(self, parameter: str, client: SSMClient | None = None) -> None:
        self._parameter = parameter
        self._client: SSMClient = client or boto3.client("ssm")

    def read(self) -> Release:
        return read_release(self._parameter, self._client)

    def write(self, release: Release) -> None:
        with translated(f"ssm:PutParameter {self._parameter}"):
            self._client.put_parameter(
                Name=self._parameter, Value=release.model_dump_json(by_alias=True), Type="String", Overwrite=True
            )
