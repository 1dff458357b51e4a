"""`tenant-onboarding tenants --stack`: a deployed stack's fleet, against moto (stack outputs, the status index)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from onboarding.adapters.dynamodb import DynamoTenantStore
from onboarding.cli import main
from onboarding.identity import name_key
from onboarding.records import HistoryEntry, TenantRecord, TenantStatus
from tests.utils.moto_aws import create_template_table, mocked_aws

AT = datetime(2026, 11, 27, tzinfo=UTC)
STACK = {"Resources": {"Nothing": {"Type": "AWS::SQS::Queue"}}, "Outputs": {"TenantsTableName": {"Value": "Tenants"}}}


@pytest.fixture
def fleet() -> Iterator[DynamoTenantStore]:
    with mocked_aws("us-east-1"):
        ddb = boto3.client("dynamodb")
        create_template_table(ddb, "TenantsTable", "Tenants")
        boto3.client("cloudformation").create_stack(StackName="saas", TemplateBody=json.dumps(STACK))
        store = DynamoTenantStore("Tenants", "Names", client=ddb)
        for i, status in enumerate([TenantStatus.ACTIVE, TenantStatus.FAILED, TenantStatus.ACTIVE]):
            ddb.put_item(TableName="Tenants", Item=item(record(f"t-{i}", status)))
        yield store


def record(tenant_id: str, status: TenantStatus) -> TenantRecord:
    failed: dict[str, Any] = {"failed_step": "AwaitReconcile", "failure_reason": "Flux InstallFailed: boom"}
    return TenantRecord(
        tenant_id=tenant_id, signup_id=tenant_id, tenant_name=f"Acme {tenant_id}", name_key=name_key(tenant_id),
        admin_email="a@b.example", tier="basic", deployment_model="pooled", status=status, execution=tenant_id,
        chart_version="1.0.0", history=[HistoryEntry(at=AT, operation="onboard", execution=tenant_id,
                                                     outcome=status.value)],
        created_at=AT, updated_at=AT, **(failed if status is TenantStatus.FAILED else {}),
    )  # fmt: skip


def item(r: TenantRecord) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    return {k: TypeSerializer().serialize(v) for k, v in r.item().items()}


def test_the_fleet_table_lists_every_tenant_with_its_chart_version(
    fleet: DynamoTenantStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenants", "--stack", "saas"]) == 0
    out = capsys.readouterr().out
    assert "CHART" in out and all(f"t-{i}" in out for i in range(3)) and "1.0.0" in out


def test_the_failed_tenants_are_a_query_by_status(fleet: DynamoTenantStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "--stack", "saas", "--status", "FAILED", "--json"]) == 0
    (failed,) = json.loads(capsys.readouterr().out)
    assert failed["tenantId"] == "t-1" and failed["failedStep"] == "AwaitReconcile"


def test_one_tenants_timeline_and_an_unknown_one(fleet: DynamoTenantStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "--stack", "saas", "t-1"]) == 0
    out = capsys.readouterr().out
    assert "failed at AwaitReconcile: Flux InstallFailed: boom" in out and "timeline:" in out
    assert main(["tenants", "--stack", "saas", "t-nobody"]) == 1
    assert "no tenant t-nobody" in capsys.readouterr().err


def test_a_stack_without_the_output_is_named(fleet: DynamoTenantStore, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("cloudformation").create_stack(
        StackName="other", TemplateBody=json.dumps({"Resources": STACK["Resources"]})
    )
    assert main(["tenants", "--stack", "other"]) == 2
    assert "TenantsTableName" in capsys.readouterr().err
