"""The interfaces the domain needs. Real adapters live in ``onboarding.adapters``; tests pass fakes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types only: a handler importing a port does not import every model behind it
    from onboarding.cidrs import CidrClaim
    from onboarding.codebuild_events import BuildResult
    from onboarding.contract.common import ContractModel, DeploymentModel, Tier
    from onboarding.delivery import Artifact
    from onboarding.fleet import ReleaseState, WaveState
    from onboarding.reconcile import ReconcileWaiter, Verdict
    from onboarding.records import HistoryEntry, OperationLock, Release, TenantRecord, TenantStatus


class TenantStore(Protocol):
    def get(self, tenant_id: str) -> TenantRecord | None: ...

    def by_status(self, status: TenantStatus) -> list[TenantRecord]:
        """Every tenant in ``status``, ordered by tenant id (an index query, never a scan)."""
        ...

    def register(
        self, record: TenantRecord, *, redrive_of: str | None, cidrs: Sequence[CidrClaim] | None = None
    ) -> bool:
        """Write the record in status ONBOARDING and claim its name, atomically.

        ``redrive_of`` is the execution that last owned a FAILED record being re-driven, or None
        for a first registration. ``cidrs`` are the hybrid ranges claimed in the same transaction,
        conditional on no registered range overlapping them (a concurrent claim raises TransientError).
        Raises TenantNameTaken, TenantConflict, TransientError or StorageError.
        """
        ...

    def cidr_overlaps(self, claims: Sequence[CidrClaim]) -> list[CidrClaim]:
        """Every registered range (of any tenant) that overlaps one of ``claims``; its cost does not grow with
        the number of registered tenants."""
        ...

    def release_cidrs(self, tenant_id: str) -> bool:
        """Release every range the tenant holds; False when it held none."""
        ...

    def release_name(self, name_key: str, tenant_id: str, execution: str) -> bool:
        """Delete the name claim if ``tenant_id`` owns it and ``execution`` owns the tenant record."""
        ...

    def activate(
        self,
        tenant_id: str,
        execution: str,
        git_commit: str,
        entry: HistoryEntry,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Mark ACTIVE (conditional on the owning execution), also setting ``details`` (attribute -> JSON)."""
        ...

    def mark_failed(
        self, record: TenantRecord, execution: str, step: str, reason: str, entry: HistoryEntry
    ) -> TenantRecord:
        """Mark the tenant FAILED (creating the record if registration never wrote it)."""
        ...

    def acquire_lock(self, record: TenantRecord, lock: OperationLock) -> None:
        """Take the per-tenant lock, conditional on the record's version. Raises TenantBusy."""
        ...

    def finish_operation(
        self,
        tenant_id: str,
        execution: str,
        *,
        status: TenantStatus,
        tier: Tier,
        deployment_model: DeploymentModel,
        git_commit: str,
        offboarded_at: datetime | None,
        entry: HistoryEntry,
        data_retained_until: datetime | None = None,
    ) -> None:
        """Apply the operation's outcome and release the lock ``execution`` holds."""
        ...

    def release_lock(
        self, tenant_id: str, execution: str, entry: HistoryEntry, details: Mapping[str, Any] | None = None
    ) -> bool:
        """Release the lock if ``execution`` holds it, recording ``entry`` and setting ``details`` (attribute ->
        JSON) in the same write. Returns whether it did."""
        ...

    def schedule_name_release(self, name_key: str, tenant_id: str, release_at: datetime) -> bool:
        """Let another tenant take this name from ``release_at`` on."""
        ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[ContractModel]) -> None:
        """Publish status events; raises EventPublishFailed when any entry is not accepted."""
        ...


class ExecutionStarter(Protocol):
    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        """Start the onboarding execution. Returns False when an execution of that name already exists."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """The GitOps branch at one commit: its SHA (None for an empty repository) and file reader."""

    sha: str | None
    files: Mapping[str, bytes]


class GitOpsRepository(Protocol):
    def snapshot(self, paths: Sequence[str]) -> Snapshot:
        """Fetch the branch head and return the content of ``paths`` (absent paths are omitted)."""
        ...

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        """Commit ``changes`` (None deletes) on top of ``base`` and push.

        Raises BranchMoved when the remote branch is no longer ``base``.
        """
        ...


@dataclass(frozen=True)
class ActivationInfo:
    """A hybrid activation as Systems Manager describes it: never its code, which SSM returns only at creation."""

    activation_id: str
    tags: Mapping[str, str]
    expired: bool


class HybridActivations(Protocol):
    def create(
        self, *, name: str, role: str, registration_limit: int, expires: datetime, tags: Mapping[str, str]
    ) -> tuple[str, str]:
        """Create a Systems Manager hybrid activation; returns (activation id, activation code).

        Not idempotent: a call whose reply was lost may still have created one (found again by its tags).
        """
        ...

    def find(self, *, name: str, tags: Mapping[str, str]) -> list[ActivationInfo]:
        """The activations created with DefaultInstanceName ``name`` that carry every tag in ``tags``."""
        ...

    def delete(self, activation_id: str) -> bool:
        """Delete the activation; False when it was already gone."""
        ...


class SecretStore(Protocol):
    def put(self, name: str, value: str, tags: Mapping[str, str]) -> str:
        """Create or update the secret; returns its ARN."""
        ...

    def read(self, secret_id: str) -> str | None: ...

    def delete(self, secret_id: str) -> bool: ...


class DocumentStore(Protocol):
    def put(self, key: str, body: str, content_type: str) -> str:
        """Store a document; returns its URI."""
        ...

    def delete(self, uri: str) -> None: ...


class TenantAccounts(Protocol):
    def assume(self, role_arn: str, external_id: str, session_name: str) -> Mapping[str, str]:
        """Credentials in the tenant's account. Raises TenantAccessDenied when the role refuses."""
        ...


class TenantRegistryClient(Protocol):
    def ensure(self, name: str, tags: Mapping[str, str], *, mutable: bool = False) -> tuple[str, bool]:
        """The repository's URI, and whether this call created it (scan on push, immutable tags unless
        ``mutable``, lifecycle)."""
        ...

    def created_by(self, names: list[str], execution: str) -> list[str]:
        """Of ``names``, the repositories tagged as created by ``execution``."""
        ...

    def delete(self, name: str) -> bool: ...


class ArtifactBuilds(Protocol):
    def start(self, project: str, environment: Mapping[str, str]) -> str:
        """Start a build; returns its id."""
        ...

    def results(self, build_ids: Sequence[str]) -> dict[str, BuildResult]:
        """What each build says now (builds CodeBuild no longer knows are left out)."""
        ...

    def find(self, project: str, marker: str, values: Collection[str]) -> dict[str, str]: ...  # value -> build id


class PendingBuilds(Protocol):
    def put(self, build_id: str, task_token: str, tenant_id: str, execution: str) -> None: ...

    def get(self, build_id: str) -> Mapping[str, str] | None:
        """The pending build (taskToken, tenantId, execution), or None."""
        ...

    def remove(self, build_id: str) -> None:
        """Forget the pending build, once its execution was resumed."""
        ...


class TaskCallbacks(Protocol):
    def succeed(self, task_token: str, output: Mapping[str, object]) -> bool: ...

    def fail(self, task_token: str, error: str, cause: str) -> bool: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


class ReconcileStore(Protocol):
    """Flux's verdicts per tenant, and the execution (at most one per tenant) waiting for one."""

    def put_verdict(self, verdict: Verdict) -> None: ...

    def verdicts_since(self, tenant_id: str, since: datetime | None) -> list[Verdict]:
        """The tenant's recorded verdicts at or after ``since`` (all of them for None), oldest first."""
        ...

    def put_waiter(self, waiter: ReconcileWaiter) -> None: ...

    def waiter(self, tenant_id: str) -> ReconcileWaiter | None: ...

    def remove_waiter(self, tenant_id: str, task_token: str) -> None:
        """Forget the waiter if it still holds ``task_token`` (a newer wait is left alone)."""
        ...


class ArtifactRegistry(Protocol):
    """An OCI registry an artifact is pushed to (a remote tenant's own ECR)."""

    def push(self, repository: str, artifact: Artifact, tag: str) -> str:
        """Push the artifact under ``tag``; returns its manifest digest."""
        ...


class ReleaseStore(Protocol):
    """Fleet releases: the release, its waves (members kept here, never in the execution state), approvals."""

    def create(self, release: ReleaseState) -> bool: ...

    def get(self, release_id: str) -> ReleaseState | None: ...

    def save(self, release: ReleaseState) -> None: ...  # an aborted record stays aborted

    def mark_aborted(self, release_id: str) -> bool: ...  # only that flag; False when there is no such release

    def claim(self, release_id: str) -> str | None: ...  # become the one running release; else who runs

    def free(self, release_id: str) -> None: ...

    def save_wave(self, release_id: str, wave: WaveState) -> None: ...

    def wave(self, release_id: str, index: int) -> WaveState: ...

    def put_approval(self, release_id: str, wave: str, task_token: str) -> None: ...

    def approval(self, release_id: str, wave: str) -> str | None: ...


class ReleaseParameter(Protocol):
    """The release every tenant gets (the SSM parameter): read, and moved to a fleet release's chart version."""

    def read(self) -> Release: ...

    def write(self, release: Release) -> None: ...


class ChartCatalog(Protocol):
    def has(self, chart: str, version: str) -> bool:
        """Whether the chart registry holds ``chart`` at exactly ``version``."""
        ...


ArtifactsFor = Callable[[str, str, str], ArtifactRegistry]  # (account, region, tenant) -> a remote tenant's ECR
# (account, region, tenant, chart version): the chart copied from the provider's registry into the tenant's ECR
ChartCopier = Callable[[str, str, str, str], None]
