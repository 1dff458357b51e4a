"""The onboarding steps as logic, against in-memory adapters that keep the real conditional semantics."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onboarding.contract.signup import OnboardingFailed, OnboardingStarted, SignupRejected, TenantOnboarded
from onboarding.errors import GitOpsConflict, GitRemoteUnavailable, TenantConflict, TenantNameTaken, TransientError
from onboarding.gitops import apply_files
from onboarding.identity import derive_tenant_id
from onboarding.manifests import GitOpsLayout
from onboarding.payloads import ActivateInput, CompensateInput, RecordFailureInput, StepInput
from onboarding.records import TenantStatus
from onboarding.steps.activate_tenant import activate_tenant
from onboarding.steps.commit_gitops import commit_gitops
from onboarding.steps.compensate import compensate
from onboarding.steps.intake import handle_signup
from onboarding.steps.record_failure import record_failure
from onboarding.steps.register_tenant import register_tenant
from tests.utils.fakes import InMemoryGitOpsRepository, InMemoryTenantStore, RecordingPublisher, RecordingStarter
from tests.utils.paths import cluster_files, tenant_file
from tests.utils.release import RELEASE


def now() -> datetime:
    return datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def detail(signup_id: str = "s-1", name: str = "Acme", **extra: Any) -> dict[str, Any]:
    return {"signupId": signup_id, "tenantName": name, "adminEmail": "a@acme.example", "tier": "basic", **extra}


def step(signup_id: str = "s-1", name: str = "Acme", attempt: int = 1, **extra: Any) -> StepInput:
    tenant_id = derive_tenant_id(signup_id)
    execution = tenant_id if attempt == 1 else f"{tenant_id}-a{attempt}"
    return StepInput.model_validate(
        {"tenantId": tenant_id, "attempt": attempt, "execution": execution, "signup": detail(signup_id, name, **extra)}
    )


# ------------------------------------------------------------------ intake
def test_intake_rejects_with_every_field_and_writes_nothing() -> None:
    starter, publisher, store = RecordingStarter(), RecordingPublisher(), InMemoryTenantStore()
    result = handle_signup(
        {"signupId": "s-9", "tenantName": "", "tier": "gold"}, starter=starter, publisher=publisher, tenants=store
    )
    assert result.outcome == "rejected"
    (rejection,) = publisher.of(SignupRejected)
    assert rejection.signup_id == "s-9"
    assert {e.field for e in rejection.errors} == {"tenantName", "adminEmail", "tier"}
    assert starter.started == {} and store.writes == 0


def test_intake_starts_one_execution_named_after_the_tenant() -> None:
    starter, publisher, store = RecordingStarter(), RecordingPublisher(), InMemoryTenantStore()
    first = handle_signup(detail(), starter=starter, publisher=publisher, tenants=store)
    again = handle_signup(detail(), starter=starter, publisher=publisher, tenants=store)
    assert first.outcome == "started" and again.outcome == "duplicate"
    assert list(starter.started) == [derive_tenant_id("s-1")]
    assert starter.started[derive_tenant_id("s-1")]["signup"]["deploymentModel"] == "pooled"  # type: ignore[index]
    assert publisher.events == []


def test_intake_ignores_a_signup_whose_tenant_is_already_active() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    register_tenant(step(), tenants=store, publisher=publisher, now=now)
    starter = RecordingStarter()
    assert handle_signup(detail(), starter=starter, publisher=publisher, tenants=store).outcome == "duplicate"
    assert starter.started == {}


def test_a_signup_of_an_offboarded_tenant_is_rejected_with_the_reason_and_the_name_release_date() -> None:
    # Given a tenant that was offboarded
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    s = step()
    register_tenant(s, tenants=store, publisher=publisher, now=now)
    offboarded_at = datetime(2026, 11, 1, tzinfo=UTC)
    store.records[s.tenant_id] = store.records[s.tenant_id].model_copy(
        update={"status": TenantStatus.OFFBOARDED, "offboarded_at": offboarded_at}
    )
    starter = RecordingStarter()
    # When its signup arrives again
    result = handle_signup(
        detail(), starter=starter, publisher=publisher, tenants=store, name_release_after=timedelta(days=30)
    )
    # Then it is rejected, naming the field, the reason and the date the name is free; nothing starts
    assert result.outcome == "rejected" and starter.started == {}
    (rejected,) = publisher.of(SignupRejected)
    (error,) = rejected.errors
    assert error.field == "signupId" and "offboarded at 2026-11-01" in error.message
    assert "released at 2026-12-01" in error.message


def test_intake_redrives_a_failed_tenant_under_a_new_execution_name() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    s = step()
    register_tenant(s, tenants=store, publisher=publisher, now=now)
    record_failure(
        RecordFailureInput.model_validate(
            {**s.wire(), "failedStep": "CommitGitOps", "error": {"Error": "X", "Cause": "y"}}
        ),
        tenants=store,
        publisher=publisher,
        now=now,
    )
    starter = RecordingStarter()
    result = handle_signup(detail(), starter=starter, publisher=publisher, tenants=store)
    assert result.outcome == "started"
    assert result.execution == f"{s.tenant_id}-a2"
    assert starter.started[f"{s.tenant_id}-a2"]["attempt"] == 2


# ------------------------------------------------------------------ register
def test_register_records_the_tenant_and_announces_it() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    registration = register_tenant(step(), tenants=store, publisher=publisher, now=now)
    record = store.get(derive_tenant_id("s-1"))
    assert registration.created and registration.name_claimed
    assert record is not None and record.status is TenantStatus.ONBOARDING
    assert record.history[-1].outcome == "ONBOARDING"
    (started,) = publisher.of(OnboardingStarted)
    assert started.tenant_id == record.tenant_id and started.attempt == 1


def test_register_is_idempotent_for_a_retried_invocation() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    register_tenant(step(), tenants=store, publisher=publisher, now=now)
    again = register_tenant(step(), tenants=store, publisher=publisher, now=now)
    assert not again.created and store.writes == 1


def test_a_taken_name_fails_and_leaves_the_first_tenant_untouched() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    register_tenant(step("s-1", "Café Ltd"), tenants=store, publisher=publisher, now=now)
    before = store.get(derive_tenant_id("s-1"))
    with pytest.raises(TenantNameTaken, match="already taken"):
        register_tenant(step("s-2", "CAFE  ltd"), tenants=store, publisher=publisher, now=now)
    assert store.get(derive_tenant_id("s-1")) == before
    assert store.get(derive_tenant_id("s-2")) is None


def test_register_refuses_a_tenant_owned_by_another_execution() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    register_tenant(step(), tenants=store, publisher=publisher, now=now)
    with pytest.raises(TenantConflict):
        register_tenant(step(attempt=2), tenants=store, publisher=publisher, now=now)


# ------------------------------------------------------------------ GitOps
def test_commit_gitops_commits_once_and_then_is_a_no_op() -> None:
    repo = InMemoryGitOpsRepository({"README.md": b"seed"})
    first = commit_gitops(step(), repo=repo, layout=GitOpsLayout(), release=RELEASE)
    second = commit_gitops(step(), repo=repo, layout=GitOpsLayout(), release=RELEASE)
    assert first.changed and not second.changed
    assert len(repo.commits) == 2  # seed + one onboarding commit
    assert second.commit == first.commit
    assert first.paths == [tenant_file(derive_tenant_id("s-1"))]


def test_a_moved_branch_is_refetched_and_reapplied_with_jitter() -> None:
    repo = InMemoryGitOpsRepository({"README.md": b"seed"})
    repo.move_before_push = 3
    sleeps: list[float] = []
    change = apply_files(repo, {"tenants/a.yaml": b"a"}, "m", sleep=sleeps.append, rng=random.Random(1))
    assert change.changed
    assert repo.pushes == 4 and len(sleeps) == 3
    assert all(0 <= s <= 2.0 for s in sleeps)
    _, files = repo.head
    assert files["tenants/a.yaml"] == b"a" and sum(1 for p in files if p.startswith("other/")) == 3


def test_a_branch_that_keeps_moving_gives_up_within_the_bound() -> None:
    repo = InMemoryGitOpsRepository({"README.md": b"seed"})
    repo.move_before_push = 100
    with pytest.raises(GitOpsConflict):
        apply_files(repo, {"tenants/a.yaml": b"a"}, "m", attempts=4, sleep=lambda _: None)
    assert repo.pushes == 4


# ------------------------------------------------------------------ activate / fail / compensate
def test_activate_marks_active_with_the_commit_and_announces() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    s = step()
    register_tenant(s, tenants=store, publisher=publisher, now=now)
    committed = {"commit": "abc", "changed": True, "paths": [], "chartVersion": RELEASE.chart_version}
    committed |= {"releaseVersion": RELEASE.version, "images": [i.wire() for i in RELEASE.provider_images()]}
    activate = ActivateInput.model_validate({**s.wire(), "gitops": committed})
    activate_tenant(activate, tenants=store, publisher=publisher, now=now)
    activate_tenant(activate, tenants=store, publisher=publisher, now=now)  # retried invocation: still fine
    record = store.get(s.tenant_id)
    assert record is not None and record.status is TenantStatus.ACTIVE and record.git_commit == "abc"
    # the record names what the tenant runs: the exact chart version and the images, by digest
    assert record.chart_version == RELEASE.chart_version and record.release_version == RELEASE.version
    assert record.images == RELEASE.provider_images()
    assert publisher.of(TenantOnboarded)[0].git_commit == "abc"


def test_compensation_removes_this_executions_files_and_name_claim_only() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    repo = InMemoryGitOpsRepository({"README.md": b"seed"})
    other = step("s-other", "Other")
    register_tenant(other, tenants=store, publisher=publisher, now=now)
    commit_gitops(other, repo=repo, layout=GitOpsLayout(), release=RELEASE)
    s = step()
    registration = register_tenant(s, tenants=store, publisher=publisher, now=now)
    change = commit_gitops(s, repo=repo, layout=GitOpsLayout(), release=RELEASE)
    failed = CompensateInput.model_validate(
        {
            **s.wire(),
            "failedStep": "ActivateTenant",
            "error": {"Error": "StorageError", "Cause": "boom"},
            "registration": registration.wire(),
            "gitops": change.wire(),
        }
    )
    result = compensate(failed, tenants=store, repo=repo)
    again = compensate(failed, tenants=store, repo=repo)
    _, files = repo.head
    assert result.compensated and again.compensated
    assert change.paths[0] not in files
    assert tenant_file(other.tenant_id) in files
    assert "acme" not in store.names and "other" in store.names
    assert any("removed" in a for a in result.actions)


def test_compensation_with_the_git_server_down_reports_what_it_could_not_undo() -> None:
    store, repo = InMemoryTenantStore(), InMemoryGitOpsRepository({"README.md": b"seed"})
    s = step()
    failed = CompensateInput.model_validate(
        {
            **s.wire(),
            "failedStep": "ActivateTenant",
            "error": {"Error": "StorageError", "Cause": "x"},
            "gitops": {"commit": "abc", "changed": True, "paths": ["tenants/x.yaml"]},
        }
    )
    repo.down = True
    result = compensate(failed, tenants=store, repo=repo)
    assert not result.compensated and "GitRemoteUnavailable" in result.actions[0]


def test_nothing_to_undo_in_git_when_the_remote_was_unreachable() -> None:
    repo = InMemoryGitOpsRepository({"README.md": b"seed"})
    failed = CompensateInput.model_validate(
        {**step().wire(), "failedStep": "CommitGitOps", "error": {"Error": GitRemoteUnavailable.__name__, "Cause": ""}}
    )
    result = compensate(failed, tenants=InMemoryTenantStore(), repo=repo)
    assert result.compensated and repo.pushes == 0


@pytest.mark.parametrize("error", ["TransientError", "GitOpsConflict", "States.Timeout"])
def test_a_commit_that_may_have_landed_is_undone(error: str) -> None:
    # Given CommitGitOps failed in a way that may follow a push that landed (lost reply, conflict, timeout)
    repo = InMemoryGitOpsRepository({"README.md": b"seed"})
    s = step()
    commit_gitops(s, repo=repo, layout=GitOpsLayout(), release=RELEASE)
    failed = CompensateInput.model_validate({**s.wire(), "failedStep": "CommitGitOps", "error": {"Error": error}})
    # When compensation runs, Then the tenant's files are removed from the branch
    result = compensate(failed, tenants=InMemoryTenantStore(), repo=repo)
    _, files = repo.head
    assert result.compensated and not any(path in files for path in cluster_files(s.tenant_id))


def test_compensation_raises_transient_errors_for_the_state_machine_to_retry() -> None:
    repo = InMemoryGitOpsRepository({"README.md": b"seed"})
    s = step()
    commit_gitops(s, repo=repo, layout=GitOpsLayout(), release=RELEASE)
    failed = CompensateInput.model_validate(
        {
            **s.wire(),
            "failedStep": "ActivateTenant",
            "error": {"Error": "StorageError", "Cause": "x"},
            "gitops": {"commit": "abc", "changed": True, "paths": [tenant_file(s.tenant_id)]},
        }
    )
    repo.flaky = 1
    with pytest.raises(TransientError):
        compensate(failed, tenants=InMemoryTenantStore(), repo=repo)
    result = compensate(failed, tenants=InMemoryTenantStore(), repo=repo)  # the retry finishes the job
    assert result.compensated and not any(path in repo.head[1] for path in cluster_files(s.tenant_id))


def test_a_compensation_that_never_finished_is_recorded_and_announced_as_not_compensated() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    s = step()
    register_tenant(s, tenants=store, publisher=publisher, now=now)
    event = record_failure(
        RecordFailureInput.model_validate(
            {
                **s.wire(),
                "failedStep": "ActivateTenant",
                "error": {"Error": "StorageError", "Cause": "boom"},
                "compensationError": {"Error": "TransientError", "Cause": "cannot fetch: timed out"},
            }
        ),
        tenants=store,
        publisher=publisher,
        now=now,
    )
    assert isinstance(event, OnboardingFailed) and not event.compensated
    assert "compensation did not finish (TransientError)" in event.cause
    record = store.get(s.tenant_id)
    assert record is not None and "compensation did not finish" in (record.failure_reason or "")


def test_record_failure_writes_failed_even_without_a_record_and_announces() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    s = step()
    cause = (
        '{"errorMessage": "tenant name \'Acme\' is already taken by another tenant", "errorType": "TenantNameTaken"}'
    )
    event = record_failure(
        RecordFailureInput.model_validate(
            {
                **s.wire(),
                "failedStep": "RegisterTenant",
                "error": {"Error": "TenantNameTaken", "Cause": cause},
                "compensation": {"compensated": True, "actions": []},
            }
        ),
        tenants=store,
        publisher=publisher,
        now=now,
    )
    record = store.get(s.tenant_id)
    assert record is not None and record.status is TenantStatus.FAILED
    assert record.failed_step == "RegisterTenant" and "already taken" in (record.failure_reason or "")
    assert publisher.of(OnboardingFailed) == [event]
    assert isinstance(event, OnboardingFailed)
    assert event.compensated and event.error == "TenantNameTaken" and "already taken" in event.cause


def test_an_https_remote_authenticates_with_the_token_as_password_and_git_remotes_need_none() -> None:
    import base64

    from onboarding.adapters.git import DulwichGitOpsRepository

    client, path = DulwichGitOpsRepository("https://git.example.com/acme/gitops.git", "main", token="tok-1")._client()
    assert path == "/acme/gitops.git"
    expected = "Basic " + base64.b64encode(b"x-access-token:tok-1").decode()
    assert vars(client)["_auth_header"] == expected
    plain, _ = DulwichGitOpsRepository("git://127.0.0.1:9418/gitops.git", "main", token="tok-1")._client()
    assert "tok-1" not in repr(vars(plain))


def test_execution_error_names_never_take_the_reserved_states_prefix() -> None:
    from onboarding.failures import execution_error

    assert execution_error("States.Timeout") == "StepTimeout"
    assert execution_error("States.TaskFailed") == "StepTaskFailed"
    assert execution_error("TenantNameTaken") == "TenantNameTaken"


def test_a_failed_announcement_after_activation_undoes_nothing_and_is_announced_again() -> None:
    store, publisher = InMemoryTenantStore(), RecordingPublisher()
    repo = InMemoryGitOpsRepository({"README.md": b"seed"})
    s = step()
    registration = register_tenant(s, tenants=store, publisher=publisher, now=now)
    change = commit_gitops(s, repo=repo, layout=GitOpsLayout(), release=RELEASE)
    activate = ActivateInput.model_validate({**s.wire(), "gitops": change.wire()})
    activate_tenant(activate, tenants=store, publisher=publisher, now=now)  # the write landed...
    failed = {
        **s.wire(),
        "failedStep": "ActivateTenant",
        "error": {"Error": "EventPublishFailed", "Cause": "x"},
        "registration": registration.wire(),
        "gitops": change.wire(),
    }
    result = compensate(CompensateInput.model_validate(failed), tenants=store, repo=repo)
    assert not result.compensated and "nothing undone" in result.actions[0]
    assert change.paths[0] in repo.head[1] and store.names  # files and name claim kept
    outcome = record_failure(
        RecordFailureInput.model_validate({**failed, "compensation": result.wire()}),
        tenants=store,
        publisher=publisher,
        now=now,
    )
    assert isinstance(outcome, TenantOnboarded)
    record = store.get(s.tenant_id)
    assert record is not None and record.status is TenantStatus.ACTIVE
    assert publisher.of(OnboardingFailed) == []
