"""Documents for the operator (customer handover guides) in S3."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from onboarding.adapters.aws import translated

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3DocumentStore:
    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        self._bucket = bucket
        self._client: S3Client = client or boto3.client("s3")

    def put(self, key: str, body: str, content_type: str) -> str:
        with translated(f"s3:PutObject {key}"):
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body.encode("utf-8"),
                ContentType=content_type,
                ServerSideEncryption="AES256",
            )
        return f"s3://{self._bucket}/{key}"

    def delete(self, uri: str) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        with translated(f"s3:DeleteObject {uri}"):
            self._client.delete_object(Bucket=bucket, Key=key)
