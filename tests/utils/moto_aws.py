"""moto's AWS for the integration tests that need no local stack: fake credentials set only inside, and
DynamoDB tables made as template.yaml declares them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
from moto import mock_aws

from onboarding_local.stack import REPO_ROOT
from onboarding_local.template import Template

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}


@contextmanager
def mocked_aws(region: str | None = None) -> Iterator[None]:
    """moto's AWS, with fake credentials (and ``region`` as the default region) only inside, and no endpoint."""
    with pytest.MonkeyPatch.context() as env:
        for key, value in FAKE_CREDENTIALS.items():
            env.setenv(key, value)
        if region is not None:
            env.setenv("AWS_DEFAULT_REGION", region)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            yield


@cache
def _template() -> Template:
    return Template(REPO_ROOT / "template.yaml", parameters={"GitOpsRepoUrl": "git://x/y.git"})


def create_template_table(client: Any, logical: str, name: str | None = None) -> None:
    """Table ``logical`` of template.yaml (keys, billing, global indexes as declared), named ``name`` or ``logical``."""
    props = _template().resolve(_template().resources[logical]["Properties"])
    indexes = {k: props[k] for k in ("GlobalSecondaryIndexes",) if k in props}
    client.create_table(
        TableName=name or logical,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props["BillingMode"],
        **indexes,
    )
