"""Compensate: undo what this execution did, in reverse order, and only that. Idempotent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from onboarding.errors import TRANSIENT_ERRORS, OnboardingError
from onboarding.gitops import apply_files
from onboarding.hybrid import release_activation
from onboarding.identity import name_key
from onboarding.manifests import tenant_paths
from onboarding.payloads import CompensateInput, Compensation
from onboarding.ports import (
    DocumentStore,
    GitOpsRepository,
    HybridActivations,
    SecretStore,
    TenantAccounts,
    TenantStore,
)
from onboarding.records import TenantRecord, TenantStatus
from onboarding.remote import RegistryFactory, remove_created_repositories

# Errors that mean CommitGitOps never pushed: the remote refused the connection, the credentials or the
# repository. A timeout, a lost reply or a conflict may follow a push that landed, so those are undone.
_NOTHING_PUSHED = frozenset({"GitRemoteUnavailable"})


def _git_may_hold_changes(step: CompensateInput) -> bool:
    if step.gitops is not None:
        return True  # even "unchanged" may be a retry of an attempt that pushed: removal is idempotent
    return step.failed_step == "CommitGitOps" and step.error.error not in _NOTHING_PUSHED


@dataclass(frozen=True)
class HybridCleanup:
    """What compensation needs to undo a hybrid provisioning."""

    activations: HybridActivations
    secrets: SecretStore
    documents: DocumentStore
    secret_prefix: str


@dataclass(frozen=True)
class RemoteCleanup:
    """What compensation needs to undo a remote provisioning in the customer's account."""

    accounts: TenantAccounts
    registry_for: RegistryFactory
    release_images: Callable[[], list[str]]  # the release's image names, when the state has no registry


_REMOTE_STEPS = frozenset({"EnsureTenantRegistry", "StartArtifactBuild", "CommitGitOps", "ActivateTenant"})


def _undo_hybrid(
    step: CompensateInput, *, tenants: TenantStore, hybrid: HybridCleanup | None, current: TenantRecord | None
) -> tuple[bool, list[str]]:
    """Delete the tenant's activations, their secret and the guide, and free its CIDRs: (all undone, actions).

    A transient error raises, so that the state machine retries compensation (every action is idempotent);
    a permanent one is reported, and compensation goes on with the rest.
    """
    actions: list[str] = []
    complete = True
    owned = current is not None and current.execution == step.execution
    if step.hybrid_resources is not None or step.failed_step == "CreateHybridActivation":
        if hybrid is None:
            complete = False
            actions.append("hybrid cleanup not configured: the activation could not be removed")
        else:
            try:
                # the execution owning the tenant removes every activation tagged with the tenant (a lost reply's
                # and an earlier attempt's too); otherwise only what this execution created
                actions += release_activation(
                    step.tenant_id,
                    activations=hybrid.activations,
                    secrets=hybrid.secrets,
                    secret_prefix=hybrid.secret_prefix,
                    execution=None if owned else step.execution,
                )
                if step.hybrid_resources is not None:
                    hybrid.documents.delete(step.hybrid_resources.handover_uri)
                    actions.append("deleted the handover guide")
            except OnboardingError as exc:
                if isinstance(exc, TRANSIENT_ERRORS):
                    raise  # the state machine retries compensation, within a bound
                complete = False
                actions.append(f"hybrid cleanup failed: {type(exc).__name__}: {exc}")
    if owned:
        try:
            if tenants.release_cidrs(step.tenant_id):
                actions.append("released the tenant's CIDRs")
        except OnboardingError as exc:
            if isinstance(exc, TRANSIENT_ERRORS):
                raise  # the state machine retries compensation, within a bound
            complete = False
            actions.append(f"CIDR release failed: {type(exc).__name__}: {exc}")
    return complete, actions


def compensate(
    step: CompensateInput,
    *,
    tenants: TenantStore,
    repo: GitOpsRepository | None,
    hybrid: HybridCleanup | None = None,
    remote: RemoteCleanup | None = None,
) -> Compensation:
    actions: list[str] = []
    complete = True
    current = tenants.get(step.tenant_id)
    if current is not None and current.execution == step.execution and current.status is TenantStatus.ACTIVE:
        # ActivateTenant's write landed and only the announcement failed: the tenant is live, undo nothing
        return Compensation(compensated=False, actions=["tenant is ACTIVE under this execution: nothing undone"])
    if _git_may_hold_changes(step):
        if repo is None:
            complete = False
            actions.append("GitOps repository unavailable: tenant files could not be removed")
        else:
            try:
                removal = dict.fromkeys(tenant_paths(step.tenant_id))
                message = f"Revert onboarding of tenant {step.tenant_id}\n\nExecution: {step.execution}\n"
                change = apply_files(repo, removal, message)
                actions.append(
                    f"removed {', '.join(change.paths)} in {change.commit}"
                    if change.changed
                    else "no GitOps files to remove"
                )
            except OnboardingError as exc:
                if isinstance(exc, TRANSIENT_ERRORS):
                    raise  # the state machine retries compensation, within a bound
                complete = False
                actions.append(f"GitOps revert failed: {type(exc).__name__}: {exc}")
    if step.signup.aws_account_id is not None and (step.registry is not None or step.failed_step in _REMOTE_STEPS):
        if remote is None:
            complete = False
            actions.append("remote cleanup not configured: repositories could not be removed")
        else:
            try:
                names = (
                    [repo.name.rsplit("/", 1)[-1] for repo in step.registry.repositories]
                    if step.registry is not None
                    else remote.release_images()
                )
                removed = remove_created_repositories(
                    step, accounts=remote.accounts, registry_for=remote.registry_for, image_names=names
                )
                actions.append(f"deleted repositories {', '.join(removed)}" if removed else "no repositories to delete")
            except OnboardingError as exc:
                if isinstance(exc, TRANSIENT_ERRORS):
                    raise  # the state machine retries compensation, within a bound
                complete = False
                actions.append(f"remote cleanup failed: {type(exc).__name__}: {exc}")
    if step.signup.hybrid is not None:
        undone, hybrid_actions = _undo_hybrid(step, tenants=tenants, hybrid=hybrid, current=current)
        complete = complete and undone
        actions += hybrid_actions
    if step.registration is not None or step.failed_step == "RegisterTenant":
        key = name_key(step.signup.tenant_name)
        if tenants.release_name(key, step.tenant_id, step.execution):
            actions.append(f"released tenant name {step.signup.tenant_name!r}")
    return Compensation(compensated=complete, actions=actions)
