"""The lifecycle state machine's payloads: a tier change, suspension, resumption or offboarding, between states."""

from __future__ import annotations

from onboarding.contract.common import Tier
from onboarding.contract.lifecycle import DataPlan, Operation
from onboarding.payloads import Compensation, GitOpsChange, ReconcileResult, StepError, StepModel
from onboarding.records import TenantSpec, TenantStatus


class LifecycleRequestInput(StepModel):
    """The execution input the lifecycle intake starts the lifecycle state machine with."""

    tenant_id: str
    operation: Operation
    operation_id: str
    execution: str
    to_tier: Tier | None = None
    data_plan: DataPlan | None = None  # a tier change's: what happens to the data of a placement it leaves


class OperationPlan(StepModel):
    """What StartOperation decided: the tenant before, and after (None when offboarded)."""

    operation: Operation
    signup_id: str
    from_status: TenantStatus
    to_status: TenantStatus
    before: TenantSpec
    after: TenantSpec | None
    aws_account_id: str | None = None  # remote tenants: where their registry lives
    region: str | None = None


class LifecycleStepInput(LifecycleRequestInput):
    plan: OperationPlan


class CompleteOperationInput(LifecycleStepInput):
    gitops: GitOpsChange
    reconcile: ReconcileResult | None = None


class LifecycleRejectInput(LifecycleRequestInput):
    error: StepError


class LifecycleFailureInput(LifecycleRequestInput):
    failed_step: str
    error: StepError
    plan: OperationPlan | None = None
    gitops: GitOpsChange | None = None
    compensation: Compensation | None = None
    compensation_error: StepError | None = None  # the revert itself failed, after its retries
