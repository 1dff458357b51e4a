"""Lifecycle operations as logic: allowed transitions, plans, locking, completion, revert and failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from onboarding.contract.common import DeploymentModel, Tier
from onboarding.contract.lifecycle import (
    DataPlan,
    Operation,
    OperationFailed,
    OperationRejectedEvent,
    TenantOffboarded,
    TenantSuspended,
    TenantTierChanged,
)
from onboarding.contract.signup import HybridSpec
from onboarding.errors import OperationRejected, TenantBusy, TenantNotFound
from onboarding.identity import derive_tenant_id, name_key, operation_execution_name
from onboarding.lifecycle_payloads import CompleteOperationInput, LifecycleFailureInput, LifecycleRequestInput
from onboarding.manifests import GitOpsLayout, tenant_files
from onboarding.payloads import StepInput
from onboarding.records import TenantSpec, TenantStatus
from onboarding.steps.complete_operation import complete_operation
from onboarding.steps.fail_operation import fail_operation
from onboarding.steps.lifecycle_intake import handle_lifecycle_request
from onboarding.steps.register_tenant import register_tenant
from onboarding.steps.revert_gitops import revert_gitops
from onboarding.steps.start_operation import plan_operation, start_operation
from onboarding.steps.update_gitops import update_gitops
from tests.utils.fakes import InMemoryGitOpsRepository, InMemoryTenantStore, RecordingPublisher, RecordingStarter
from tests.utils.paths import tenant_file
from tests.utils.release import RELEASE

AT = datetime(2026, 11, 24, 10, tzinfo=UTC)
RETAIN = timedelta(days=30)


def now() -> datetime:
    return AT


def change_content(repo: InMemoryGitOpsRepository, tenant_id: str, index: int) -> bytes:
    return repo.commits[index][1][tenant_file(tenant_id)]


def active_tenant(store: InMemoryTenantStore, tier: str = "basic", model: str | None = None) -> str:
    tenant_id = derive_tenant_id("s-1")
    signup = {"signupId": "s-1", "tenantName": "Acme", "adminEmail": "a@b.example", "tier": tier}
    if model:
        signup["deploymentModel"] = model
    step = StepInput.model_validate({"tenantId": tenant_id, "attempt": 1, "execution": tenant_id, "signup": signup})
    register_tenant(step, tenants=store, publisher=RecordingPublisher(), now=now)
    record = store.records[tenant_id]
    store.records[tenant_id] = record.model_copy(
        update={
            "status": TenantStatus.ACTIVE,
            "git_commit": "c0",  # as ActivateTenant records it: what the tenant runs
            "chart_version": RELEASE.chart_version,
            "release_version": RELEASE.version,
            "images": RELEASE.provider_images(),
        }
    )
    return tenant_id


def req(tenant_id: str, operation: Operation, **extra: Any) -> LifecycleRequestInput:
    return LifecycleRequestInput(
        tenant_id=tenant_id,
        operation=operation,
        operation_id=f"op-{operation.value}",
        execution=operation_execution_name(f"op-{operation.value}"),
        **extra,
    )


@pytest.mark.parametrize(
    ("tier", "model", "to", "expected"),
    [
        ("basic", None, Tier.PREMIUM, DeploymentModel.SILOED),
        ("premium", None, Tier.BASIC, DeploymentModel.POOLED),
        ("premium", None, Tier.ADVANCED, DeploymentModel.SILOED),
        ("advanced", "remote", Tier.BASIC, DeploymentModel.REMOTE),
    ],
)
def test_tier_change_moves_pooled_and_siloed_but_keeps_remote_and_hybrid_placement(
    tier: str, model: str | None, to: Tier, expected: DeploymentModel
) -> None:
    store = InMemoryTenantStore()
    tenant_id = active_tenant(store, tier)
    record = store.records[tenant_id]
    if model:
        record = record.model_copy(update={"deployment_model": DeploymentModel(model)})
    plan = plan_operation(req(tenant_id, Operation.CHANGE_TIER, to_tier=to, data_plan=DataPlan.KEEP), record)
    assert plan.after is not None and plan.after.tier is to and plan.after.deployment_model is expected
    assert plan.before.tier.value == tier


@pytest.mark.parametrize(
    ("status", "operation"),
    [
        (TenantStatus.ONBOARDING, Operation.SUSPEND),
        (TenantStatus.FAILED, Operation.OFFBOARD),
        (TenantStatus.OFFBOARDED, Operation.OFFBOARD),
        (TenantStatus.ACTIVE, Operation.RESUME),
        (TenantStatus.SUSPENDED, Operation.SUSPEND),
        (TenantStatus.ONBOARDING, Operation.CHANGE_TIER),
    ],
)
def test_operations_not_allowed_from_a_status_are_rejected_with_the_reason(
    status: TenantStatus, operation: Operation
) -> None:
    store = InMemoryTenantStore()
    tenant_id = active_tenant(store)
    record = store.records[tenant_id].model_copy(update={"status": status})
    with pytest.raises(OperationRejected, match=f"is {status.value}"):
        plan_operation(req(tenant_id, operation, to_tier=Tier.PREMIUM), record)


def test_the_same_tier_is_rejected() -> None:
    store = InMemoryTenantStore()
    tenant_id = active_tenant(store)
    with pytest.raises(OperationRejected, match="already on tier basic"):
        plan_operation(req(tenant_id, Operation.CHANGE_TIER, to_tier=Tier.BASIC), store.records[tenant_id])


def test_start_takes_the_lock_and_a_second_operation_is_busy() -> None:
    store = InMemoryTenantStore()
    tenant_id = active_tenant(store)
    start_operation(req(tenant_id, Operation.SUSPEND), tenants=store, now=now)
    assert store.records[tenant_id].lock is not None
    start_operation(req(tenant_id, Operation.SUSPEND), tenants=store, now=now)  # its own retry: fine
    with pytest.raises(TenantBusy):
        start_operation(req(tenant_id, Operation.OFFBOARD), tenants=store, now=now)


def test_unknown_tenant_is_rejected() -> None:
    with pytest.raises(TenantNotFound, match="unknown tenant"):
        start_operation(req("t-nobody-0000000000", Operation.SUSPEND), tenants=InMemoryTenantStore(), now=now)


def test_offboarding_removes_the_file_releases_the_lock_and_schedules_the_name() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    # Given a tenant whose file is still in the flat layout (written before the sharded default)
    repo = InMemoryGitOpsRepository({"README.md": b"x", f"tenants/{derive_tenant_id('s-1')}.yaml": b"old"})
    tenant_id = active_tenant(store)
    request = req(tenant_id, Operation.OFFBOARD)
    plan = start_operation(request, tenants=store, now=now)
    change = update_gitops(
        CompleteOperationInput.model_validate(
            {**request.wire(), "plan": plan.wire(), "gitops": {"commit": "", "changed": False, "paths": []}}
        ),
        repo=repo,
        layout=GitOpsLayout(),
    )
    assert change.changed and f"tenants/{tenant_id}.yaml" not in repo.head[1]
    assert not [path for path in repo.head[1] if tenant_id in path]  # nothing of it, in either layout
    done = CompleteOperationInput.model_validate({**request.wire(), "plan": plan.wire(), "gitops": change.wire()})
    event = complete_operation(
        done, tenants=store, publisher=publisher, now=now, name_release_after=timedelta(days=30), data_retention=RETAIN
    )
    record = store.records[tenant_id]
    assert record.status is TenantStatus.OFFBOARDED and record.lock is None and record.offboarded_at == AT
    assert record.data_retained_until == AT + RETAIN  # the date its retained data is deleted
    assert isinstance(event, TenantOffboarded) and event.name_released_at == AT + timedelta(days=30)
    assert store.released[name_key("Acme")] == AT + timedelta(days=30)


def test_tier_change_event_names_both_tiers() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    tenant_id = active_tenant(store)
    request = req(tenant_id, Operation.CHANGE_TIER, to_tier=Tier.ADVANCED, data_plan=DataPlan.MIGRATE)
    plan = start_operation(request, tenants=store, now=now)
    done = CompleteOperationInput.model_validate(
        {**request.wire(), "plan": plan.wire(), "gitops": {"commit": "c1", "changed": True, "paths": []}}
    )
    event = complete_operation(
        done, tenants=store, publisher=publisher, now=now, name_release_after=timedelta(0), data_retention=RETAIN
    )
    assert isinstance(event, TenantTierChanged)
    assert (event.from_tier, event.to_tier, event.deployment_model) == (
        Tier.BASIC,
        Tier.ADVANCED,
        DeploymentModel.SILOED,
    )
    assert store.records[tenant_id].tier is Tier.ADVANCED and store.records[tenant_id].git_commit == "c1"


def test_revert_restores_the_previous_file_and_failure_releases_the_lock() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    tenant_id = active_tenant(store)
    original = tenant_files(store.records[tenant_id].spec, GitOpsLayout())
    repo = InMemoryGitOpsRepository({"README.md": b"x", **original})
    request = req(tenant_id, Operation.SUSPEND)
    plan = start_operation(request, tenants=store, now=now)
    state = {**request.wire(), "plan": plan.wire()}
    change = update_gitops(
        CompleteOperationInput.model_validate({**state, "gitops": {"commit": "", "changed": False, "paths": []}}),
        repo=repo,
        layout=GitOpsLayout(),
    )
    failure = LifecycleFailureInput.model_validate(
        {**state, "gitops": change.wire(), "failedStep": "CompleteOperation", "error": {"Error": "StorageError"}}
    )
    compensation = revert_gitops(failure, repo=repo, layout=GitOpsLayout(), tenants=store)
    assert change.changed and b"suspended: true" in change_content(repo, tenant_id, -2)
    assert compensation.compensated
    assert repo.head[1] == {"README.md": b"x", **original}
    event = fail_operation(
        failure.model_copy(update={"compensation": compensation}),
        tenants=store,
        publisher=publisher,
        now=now,
        name_release_after=timedelta(days=30),
    )
    assert isinstance(event, OperationFailed) and event.compensated and event.failed_step == "CompleteOperation"
    record = store.records[tenant_id]
    assert record.lock is None and record.status is TenantStatus.ACTIVE and record.history[-1].outcome == "FAILED"


def test_lifecycle_intake_names_every_wrong_field_and_starts_nothing() -> None:
    starter, publisher = RecordingStarter(), RecordingPublisher()
    result = handle_lifecycle_request(
        "Tenant Tier Change Requested", {"tenantId": "nope", "tier": "gold"}, starter=starter, publisher=publisher
    )
    assert result.outcome == "rejected" and starter.started == {}
    (event,) = publisher.of(OperationRejectedEvent)
    assert {e.field for e in event.errors} == {"tenantId", "operationId", "tier"}
    assert event.operation is Operation.CHANGE_TIER


def test_lifecycle_intake_starts_one_execution_per_operation_id() -> None:
    starter, publisher = RecordingStarter(), RecordingPublisher()
    detail = {"tenantId": derive_tenant_id("s-1"), "operationId": "op-42"}
    first = handle_lifecycle_request("Tenant Suspend Requested", detail, starter=starter, publisher=publisher)
    again = handle_lifecycle_request("Tenant Suspend Requested", detail, starter=starter, publisher=publisher)
    assert (first.outcome, again.outcome) == ("started", "duplicate")
    assert list(starter.started) == [operation_execution_name("op-42")]


def test_an_operation_whose_announcement_failed_after_completing_is_not_reverted_nor_called_failed() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    tenant_id = active_tenant(store)
    repo = InMemoryGitOpsRepository({"README.md": b"x"})
    request = req(tenant_id, Operation.SUSPEND)
    plan = start_operation(request, tenants=store, now=now)
    state = {**request.wire(), "plan": plan.wire()}
    change = update_gitops(
        CompleteOperationInput.model_validate({**state, "gitops": {"commit": "", "changed": False, "paths": []}}),
        repo=repo,
        layout=GitOpsLayout(),
    )
    done = CompleteOperationInput.model_validate({**state, "gitops": change.wire()})
    complete_operation(
        done, tenants=store, publisher=publisher, now=now, name_release_after=timedelta(0), data_retention=RETAIN
    )
    failure = LifecycleFailureInput.model_validate(
        {**state, "gitops": change.wire(), "failedStep": "CompleteOperation", "error": {"Error": "EventPublishFailed"}}
    )
    files = dict(repo.head[1])
    compensation = revert_gitops(failure, repo=repo, layout=GitOpsLayout(), tenants=store)
    assert not compensation.compensated and repo.head[1] == files  # GitOps keeps the recorded state
    announced = len(publisher.of(TenantSuspended))
    event = fail_operation(
        failure.model_copy(update={"compensation": compensation}),
        tenants=store,
        publisher=publisher,
        now=now,
        name_release_after=timedelta(days=30),
    )
    assert "completed" in event.cause and publisher.of(OperationFailed) == []  # no "Tenant Operation Failed"
    # the outcome it failed to announce is announced again, with the recorded commit
    assert len(publisher.of(TenantSuspended)) == announced + 1
    assert publisher.of(TenantSuspended)[-1].git_commit == change.commit
    assert store.records[tenant_id].status is TenantStatus.SUSPENDED


def test_a_lock_left_past_its_lease_by_a_stopped_execution_is_taken_over() -> None:
    store = InMemoryTenantStore()
    tenant_id = active_tenant(store)
    start_operation(req(tenant_id, Operation.SUSPEND), tenants=store, now=now)  # then stopped by hand
    with pytest.raises(TenantBusy):  # within the lease: the next operation waits
        start_operation(req(tenant_id, Operation.OFFBOARD), tenants=store, now=lambda: AT + timedelta(minutes=30))
    later = AT + timedelta(hours=2)
    plan = start_operation(req(tenant_id, Operation.OFFBOARD), tenants=store, now=lambda: later)
    lock = store.records[tenant_id].lock
    assert plan.operation is Operation.OFFBOARD and lock is not None and lock.operation == "offboard"
    assert lock.expires_at == later + timedelta(hours=1)


# ------------------------------------------------------------------ no tenant data lost by an operation
@pytest.mark.parametrize(
    ("tier", "to", "leaving", "entering"),
    [("basic", Tier.PREMIUM, "pooled", "siloed"), ("advanced", Tier.BASIC, "siloed", "pooled")],
)
def test_a_move_between_placements_without_a_data_plan_is_refused_naming_data_plan(
    tier: str, to: Tier, leaving: str, entering: str
) -> None:
    # Given an ACTIVE tenant whose new tier's placement differs from its own
    store = InMemoryTenantStore()
    tenant_id = active_tenant(store, tier)
    before = store.records[tenant_id]
    # When the tier change says nothing about the tenant's data
    with pytest.raises(OperationRejected) as refused:
        start_operation(req(tenant_id, Operation.CHANGE_TIER, to_tier=to), tenants=store, now=now)
    # Then it is refused, with the reason and the field to set, and nothing changed (not even the lock)
    message = str(refused.value)
    assert f"from the {leaving} to the {entering} placement" in message
    assert "dataPlan" in message and all(plan.value in message for plan in DataPlan)
    assert store.records[tenant_id] == before


@pytest.mark.parametrize("data_plan", list(DataPlan))
def test_a_move_between_placements_with_a_data_plan_goes_ahead(data_plan: DataPlan) -> None:
    store = InMemoryTenantStore()
    tenant_id = active_tenant(store, "premium")
    request = req(tenant_id, Operation.CHANGE_TIER, to_tier=Tier.BASIC, data_plan=data_plan)
    plan = start_operation(request, tenants=store, now=now)
    assert plan.after is not None and plan.after.deployment_model is DeploymentModel.POOLED
    assert store.records[tenant_id].lock is not None
    # the request's data plan stays in the execution's state, for every later step (CompleteOperation included)
    state = CompleteOperationInput.model_validate(
        {**request.wire(), "plan": plan.wire(), "gitops": {"commit": "c1", "changed": True, "paths": []}}
    )
    assert state.data_plan is data_plan and state.wire()["dataPlan"] == data_plan.value


@pytest.mark.parametrize(
    ("tier", "model", "to"),
    [("premium", None, Tier.ADVANCED), ("advanced", "remote", Tier.BASIC), ("advanced", "hybrid", Tier.PREMIUM)],
    ids=["siloed-to-siloed", "remote", "hybrid"],
)
def test_a_tier_change_that_keeps_the_placement_needs_no_data_plan(tier: str, model: str | None, to: Tier) -> None:
    store = InMemoryTenantStore()
    tenant_id = active_tenant(store, tier)
    record = store.records[tenant_id]
    if model:
        record = record.model_copy(update={"deployment_model": DeploymentModel(model)})
    plan = plan_operation(req(tenant_id, Operation.CHANGE_TIER, to_tier=to), record)
    assert plan.after is not None and plan.after.deployment_model is record.deployment_model


def test_the_lifecycle_intake_passes_the_data_plan_on_and_names_a_wrong_one() -> None:
    starter, publisher = RecordingStarter(), RecordingPublisher()
    detail = {"tenantId": derive_tenant_id("s-1"), "operationId": "op-move", "tier": "basic", "dataPlan": "migrate"}
    started = handle_lifecycle_request("Tenant Tier Change Requested", detail, starter=starter, publisher=publisher)
    assert started.outcome == "started"
    assert starter.started[operation_execution_name("op-move")]["dataPlan"] == "migrate"
    wrong = {**detail, "operationId": "op-wrong", "dataPlan": "archive"}
    rejected = handle_lifecycle_request("Tenant Tier Change Requested", wrong, starter=starter, publisher=publisher)
    assert rejected.outcome == "rejected" and [e.field for e in rejected.errors] == ["dataPlan"]


@pytest.mark.parametrize("model", ["siloed", "hybrid", "remote"])
def test_every_tenant_namespace_is_kept_when_flux_no_longer_finds_it_in_git(model: str) -> None:
    # Given the documents of a tenant with its own namespace
    hybrid = {"nodeCidrs": ["192.168.10.0/24"], "podCidrs": ["192.168.128.0/20"], "nodeCount": 1}
    spec = TenantSpec(
        tenant_id="t-keep-0123456789",
        tenant_name="Keep",
        tier=Tier.PREMIUM,
        deployment_model=DeploymentModel(model),
        hybrid=HybridSpec.model_validate({**hybrid, "supportingServices": "bundled"}) if model == "hybrid" else None,
        images=tuple(RELEASE.provider_images()),
        chart_version=RELEASE.chart_version,
    )
    (content,) = tenant_files(spec, GitOpsLayout()).values()
    (namespace,) = [d for d in yaml.safe_load_all(content) if d["kind"] == "Namespace"]
    # Then kustomize-controller's prune (offboarding, a move to the pool) never deletes it, nor the data in it
    assert namespace["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
