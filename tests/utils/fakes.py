"""In-memory implementations of the domain ports, with the same conditional semantics as the adapters."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from onboarding.cidrs import CidrClaim, CidrRegistry
from onboarding.contract.common import ContractModel
from onboarding.errors import (
    BranchMoved,
    GitRemoteUnavailable,
    StorageError,
    TenantAccessDenied,
    TenantBusy,
    TenantConflict,
    TenantNameTaken,
    TransientError,
)
from onboarding.fleet import ReleaseState, WaveState
from onboarding.identity import name_key
from onboarding.ports import ActivationInfo, Snapshot
from onboarding.reconcile import ReconcileWaiter, Verdict
from onboarding.records import HistoryEntry, OperationLock, Release, TenantRecord, TenantStatus


class NameClaims(dict[str, str]):
    """Name claims by claim key (``identity.name_key``, a hash); ``in`` also takes a display name, as tests ask."""

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (isinstance(key, str) and super().__contains__(name_key(key)))


class InMemoryTenantStore:
    def __init__(self) -> None:
        self.records: dict[str, TenantRecord] = {}
        self.names: dict[str, str] = NameClaims()
        self.released: dict[str, datetime] = {}
        self.cidrs = CidrRegistry(version=0, claims=[])
        self.writes = 0

    def by_status(self, status: TenantStatus) -> list[TenantRecord]:
        return sorted((r for r in self.records.values() if r.status is status), key=lambda r: r.tenant_id)

    def cidr_overlaps(self, claims: Sequence[CidrClaim]) -> list[CidrClaim]:
        return [c for c in self.cidrs.claims if any(c.cidr.overlaps(m.cidr) for m in claims)]

    def release_cidrs(self, tenant_id: str) -> bool:
        kept = [c for c in self.cidrs.claims if c.tenant_id != tenant_id]
        if len(kept) == len(self.cidrs.claims):
            return False
        self.cidrs = CidrRegistry(version=self.cidrs.version + 1, claims=kept)
        return True

    def get(self, tenant_id: str) -> TenantRecord | None:
        return self.records.get(tenant_id)

    def register(
        self, record: TenantRecord, *, redrive_of: str | None, cidrs: Sequence[CidrClaim] | None = None
    ) -> bool:
        others = [c for c in self.cidrs.claims if c.tenant_id != record.tenant_id]
        if cidrs and any(c.cidr.overlaps(o.cidr) for c in cidrs for o in others):
            raise TransientError("the CIDR registry changed concurrently")
        existing = self.records.get(record.tenant_id)
        if redrive_of is None and existing is not None:
            raise TenantConflict("exists")
        if redrive_of is not None and (
            existing is None or existing.status is not TenantStatus.FAILED or existing.execution != redrive_of
        ):
            raise TenantConflict("not a failed onboarding")
        owner = self.names.get(record.name_key)
        released = self.released.get(record.name_key)
        if owner is not None and owner != record.tenant_id and not (released and released < record.updated_at):
            raise TenantNameTaken(f"tenant name {record.tenant_name!r} is already taken by another tenant")
        self.records[record.tenant_id] = record
        self.names[record.name_key] = record.tenant_id
        if cidrs:
            self.cidrs = CidrRegistry(version=self.cidrs.version + 1, claims=[*others, *cidrs])
        self.writes += 1
        return True

    def release_name(self, name_key: str, tenant_id: str, execution: str) -> bool:
        record = self.records.get(tenant_id)
        if self.names.get(name_key) == tenant_id and record is not None and record.execution == execution:
            del self.names[name_key]
            self.writes += 1
            return True
        return False

    def activate(
        self,
        tenant_id: str,
        execution: str,
        git_commit: str,
        entry: HistoryEntry,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        record = self.records.get(tenant_id)
        if record is None or record.execution != execution or record.status is not TenantStatus.ONBOARDING:
            if record and record.execution == execution and record.status is TenantStatus.ACTIVE:
                return
            raise TenantConflict("cannot activate")
        self.records[tenant_id] = TenantRecord.model_validate(
            {
                **record.item(),
                "status": TenantStatus.ACTIVE.value,
                "gitCommit": git_commit,
                "history": [*record.item()["history"], entry.model_dump(mode="json", by_alias=True)],
                **(details or {}),
            }
        )
        self.writes += 1

    def mark_failed(
        self, record: TenantRecord, execution: str, step: str, reason: str, entry: HistoryEntry
    ) -> TenantRecord:
        existing = self.records.get(record.tenant_id)
        if existing is None:
            self.records[record.tenant_id] = record
        elif existing.execution == execution and existing.status in (TenantStatus.ONBOARDING, TenantStatus.FAILED):
            self.records[record.tenant_id] = existing.model_copy(
                update={
                    "status": TenantStatus.FAILED,
                    "failed_step": step,
                    "failure_reason": reason,
                    "history": [*existing.history, entry],
                }
            )
        elif existing.status is TenantStatus.FAILED and existing.attempts < record.attempts:
            self.records[record.tenant_id] = existing.model_copy(
                update={
                    "execution": execution,
                    "attempts": record.attempts,
                    "failed_step": step,
                    "failure_reason": reason,
                    "history": [*existing.history, entry],
                }
            )
        else:
            raise TenantConflict("owned by another execution")
        self.writes += 1
        return self.records[record.tenant_id]

    def acquire_lock(self, record: TenantRecord, lock: OperationLock) -> None:
        current = self.records.get(record.tenant_id)
        held = current is not None and current.lock is not None
        stale = held and current.lock.expires_at is not None and current.lock.expires_at < lock.at  # type: ignore[union-attr]
        if current is None or current.version != record.version or (held and not stale):
            raise TenantBusy(f"tenant {record.tenant_id} is busy")
        self.records[record.tenant_id] = current.model_copy(update={"lock": lock, "version": current.version + 1})
        self.writes += 1

    def finish_operation(self, tenant_id: str, execution: str, **fields: Any) -> None:
        current = self.records[tenant_id]
        if current.lock is None or current.lock.execution != execution:
            if current.lock is None and current.history and current.history[-1].execution == execution:
                return
            raise TenantConflict("not the lock holder")
        entry = fields.pop("entry")
        self.records[tenant_id] = current.model_copy(
            update={**fields, "lock": None, "history": [*current.history, entry], "version": current.version + 1}
        )
        self.writes += 1

    def release_lock(
        self, tenant_id: str, execution: str, entry: HistoryEntry, details: Mapping[str, Any] | None = None
    ) -> bool:
        current = self.records.get(tenant_id)
        if current is None or current.lock is None or current.lock.execution != execution:
            return False
        updated = current.model_copy(update={"lock": None, "history": [*current.history, entry]})
        if details:  # attribute -> JSON, as the DynamoDB adapter sets them
            updated = TenantRecord.model_validate({**updated.item(), **details})
        self.records[tenant_id] = updated
        self.writes += 1
        return True

    def schedule_name_release(self, name_key: str, tenant_id: str, release_at: datetime) -> bool:
        if self.names.get(name_key) != tenant_id:
            return False
        self.released[name_key] = release_at
        return True


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[ContractModel] = []

    def publish(self, events: Sequence[ContractModel]) -> None:
        self.events.extend(events)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class RecordingStarter:
    def __init__(self) -> None:
        self.started: dict[str, Mapping[str, object]] = {}

    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        if name in self.started:
            return False
        self.started[name] = payload
        return True


class InMemoryGitOpsRepository:
    """A branch as a list of (sha, files). ``move_before_push`` simulates other writers winning races."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.commits: list[tuple[str, dict[str, bytes], str]] = []
        if files is not None:
            self._append(dict(files), "seed")
        self.move_before_push = 0
        self.down = False
        self.flaky = 0  # the next N calls time out (transient), as a reset or a lost reply would
        self.pushes = 0

    def _append(self, files: dict[str, bytes], message: str) -> str:
        sha = hashlib.sha1(f"{len(self.commits)}{message}{sorted(files.items())}".encode()).hexdigest()
        self.commits.append((sha, files, message))
        return sha

    @property
    def head(self) -> tuple[str | None, dict[str, bytes]]:
        return (self.commits[-1][0], self.commits[-1][1]) if self.commits else (None, {})

    def snapshot(self, paths: Sequence[str]) -> Snapshot:
        if self.flaky > 0:
            self.flaky -= 1
            raise TransientError("cannot fetch: TimeoutError: timed out")
        if self.down:
            raise GitRemoteUnavailable("connection refused")
        sha, files = self.head
        return Snapshot(sha=sha, files={p: files[p] for p in paths if p in files})

    def commit(self, base: str | None, changes: Mapping[str, bytes | None], message: str) -> str:
        if self.down:
            raise GitRemoteUnavailable("connection refused")
        self.pushes += 1
        if self.move_before_push > 0:
            self.move_before_push -= 1
            _, files = self.head
            self._append({**files, f"other/{len(self.commits)}.txt": b"x"}, "another writer")
        sha, files = self.head
        if sha != base:
            raise BranchMoved("moved")
        new = dict(files)
        for path, content in changes.items():
            if content is None:
                new.pop(path, None)
            else:
                new[path] = content
        return self._append(new, message)


class InMemoryIdempotencyStore:
    """Powertools' persistence-layer interface, in memory (same contract as DynamoDBPersistenceLayer)."""

    def __new__(cls) -> Any:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemAlreadyExistsError,
            IdempotencyItemNotFoundError,
        )
        from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

        class _Store(BasePersistenceLayer):
            def __init__(self) -> None:
                super().__init__()  # type: ignore[no-untyped-call]
                self.records: dict[str, Any] = {}

            def _get_record(self, idempotency_key: str) -> Any:
                if idempotency_key not in self.records:
                    raise IdempotencyItemNotFoundError
                return self.records[idempotency_key]

            def _put_record(self, data_record: Any) -> None:
                existing = self.records.get(data_record.idempotency_key)
                if existing is not None and not existing.is_expired:
                    raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
                self.records[data_record.idempotency_key] = data_record

            def _update_record(self, data_record: Any) -> None:
                self.records[data_record.idempotency_key] = data_record

            def _delete_record(self, data_record: Any) -> None:
                self.records.pop(data_record.idempotency_key, None)

        return _Store()


class FakeActivations:
    """SSM hybrid activations. ``lose_create_replies``: that many next creations take effect, then raise as a
    lost reply does; ``fail_find``/``fail_delete``: raise that error instead of answering."""

    def __init__(self) -> None:
        self.live: dict[str, dict[str, Any]] = {}
        self.created = 0
        self.expired: set[str] = set()
        self.lose_create_replies = 0
        self.fail_find: Exception | None = None
        self.fail_delete: Exception | None = None

    def create(self, *, name: str, role: str, registration_limit: int, expires: datetime, tags: Any) -> tuple[str, str]:
        self.created += 1
        activation_id = f"act-{self.created}"
        self.live[activation_id] = {"name": name, "limit": registration_limit, "expires": expires, "tags": dict(tags)}
        if self.lose_create_replies > 0:
            self.lose_create_replies -= 1
            raise TransientError("ssm:CreateActivation: Read timeout on endpoint URL")
        return activation_id, f"SECRET-CODE-{self.created}"

    def find(self, *, name: str, tags: Mapping[str, str]) -> list[ActivationInfo]:
        if self.fail_find is not None:
            raise self.fail_find
        return [
            ActivationInfo(activation_id=activation_id, tags=dict(a["tags"]), expired=activation_id in self.expired)
            for activation_id, a in self.live.items()
            if a["name"] == name and all(a["tags"].get(k) == v for k, v in tags.items())
        ]

    def delete(self, activation_id: str) -> bool:
        if self.fail_delete is not None:
            raise self.fail_delete
        return self.live.pop(activation_id, None) is not None


class FakeSecrets:
    def __init__(self, fail: bool = False) -> None:
        self.values: dict[str, str] = {}
        self.fail = fail

    def put(self, name: str, value: str, tags: Any) -> str:
        if self.fail:
            raise StorageError("secretsmanager:CreateSecret: AccessDenied")
        self.values[name] = value
        return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}"

    def read(self, secret_id: str) -> str | None:
        return self.values.get(secret_id)

    def delete(self, secret_id: str) -> bool:
        return self.values.pop(secret_id, None) is not None


class FakeDocuments:
    def __init__(self) -> None:
        self.docs: dict[str, str] = {}

    def put(self, key: str, body: str, content_type: str) -> str:
        self.docs[f"s3://handover/{key}"] = body
        return f"s3://handover/{key}"

    def delete(self, uri: str) -> None:
        self.docs.pop(uri, None)


class Accounts:
    def __init__(self, deny: bool = False) -> None:
        self.deny = deny
        self.assumed: list[tuple[str, str]] = []

    def assume(self, role_arn: str, external_id: str, session_name: str) -> Mapping[str, str]:
        self.assumed.append((role_arn, external_id))
        if self.deny:
            raise TenantAccessDenied("AccessDenied")
        return {"aws_access_key_id": "k"}


class Registry:
    def __init__(self, existing: set[str] | None = None) -> None:
        self.repos: dict[str, dict[str, str]] = {name: {} for name in existing or set()}

    def ensure(self, name: str, tags: Mapping[str, str], *, mutable: bool = False) -> tuple[str, bool]:
        created = name not in self.repos
        self.repos.setdefault(name, {**tags, **({"mutable": "true"} if mutable else {})})
        return f"222222222222.dkr.ecr.eu-west-1.amazonaws.com/{name}", created

    def created_by(self, names: list[str], execution: str) -> list[str]:
        return [n for n in names if self.repos.get(n, {}).get("execution") == execution]

    def delete(self, name: str) -> bool:
        return self.repos.pop(name, None) is not None


class Callbacks:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def succeed(self, task_token: str, output: Mapping[str, object]) -> bool:
        self.calls.append(("succeed", task_token, str(output.get("digests", output))))
        return True

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        self.calls.append(("fail", task_token, error, cause))
        return True


class Taken:
    def __init__(self, build_id: str) -> None:
        self.build_id = build_id

    def get(self, build_id: str) -> Mapping[str, str] | None:
        if build_id != self.build_id:
            return None
        return {"taskToken": "tok", "tenantId": "t-x", "execution": "t-x"}

    def put(self, build_id: str, task_token: str, tenant_id: str, execution: str) -> None:
        self.build_id = build_id

    def remove(self, build_id: str) -> None:
        self.build_id = ""


class InMemoryReconcileStore:
    """Verdicts and waiters per tenant, as DynamoReconcileStore keeps them."""

    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []
        self.waiters: dict[str, ReconcileWaiter] = {}

    def put_verdict(self, verdict: Verdict) -> None:
        self.verdicts.append(verdict)

    def verdicts_since(self, tenant_id: str, since: datetime | None) -> list[Verdict]:
        found = [v for v in self.verdicts if v.tenant_id == tenant_id and (since is None or v.at >= since)]
        return sorted(found, key=lambda v: v.at)

    def put_waiter(self, waiter: ReconcileWaiter) -> None:
        self.waiters[waiter.tenant_id] = waiter

    def waiter(self, tenant_id: str) -> ReconcileWaiter | None:
        return self.waiters.get(tenant_id)

    def remove_waiter(self, tenant_id: str, task_token: str) -> None:
        if (w := self.waiters.get(tenant_id)) is not None and w.task_token == task_token:
            del self.waiters[tenant_id]


class InMemoryReleaseStore:
    """Releases, waves and approvals, with the one-at-a-time claim the DynamoDB adapter makes."""

    def __init__(self) -> None:
        self.releases: dict[str, ReleaseState] = {}
        self.waves: dict[tuple[str, int], WaveState] = {}
        self.approvals: dict[tuple[str, str], str] = {}
        self.active: str | None = None

    def create(self, release: ReleaseState) -> bool:
        if release.release_id in self.releases:
            return False
        self.releases[release.release_id] = release
        return True

    def get(self, release_id: str) -> ReleaseState | None:
        return self.releases.get(release_id)

    def save(self, release: ReleaseState) -> None:
        kept = self.releases.get(release.release_id)
        aborted = release.aborted or (kept is not None and kept.aborted)  # an abort is never undone
        self.releases[release.release_id] = release.model_copy(update={"aborted": aborted})

    def mark_aborted(self, release_id: str) -> bool:
        kept = self.releases.get(release_id)
        if kept is None:
            return False
        self.releases[release_id] = kept.model_copy(update={"aborted": True})
        return True

    def claim(self, release_id: str) -> str | None:
        if self.active in (None, release_id):
            self.active = release_id
            return None
        return self.active

    def free(self, release_id: str) -> None:
        if self.active == release_id:
            self.active = None

    def save_wave(self, release_id: str, wave: WaveState) -> None:
        self.waves[(release_id, wave.index)] = wave

    def wave(self, release_id: str, index: int) -> WaveState:
        return self.waves[(release_id, index)]

    def put_approval(self, release_id: str, wave: str, task_token: str) -> None:
        self.approvals[(release_id, wave)] = task_token

    def approval(self, release_id: str, wave: str) -> str | None:
        return self.approvals.get((release_id, wave))


class FixedRelease:
    """The release parameter, in memory."""

    def __init__(self, release: Release) -> None:
        self.release = release

    def read(self) -> Release:
        return self.release

    def write(self, release: Release) -> None:
        self.release = release


class Catalog:
    def __init__(self, *published: str) -> None:
        self.published = set(published)

    def has(self, chart: str, version: str) -> bool:
        return version in self.published


class CopyBuilds:
    """CodeBuild, in memory: each started build runs when ``finish`` says how it ended."""

    def __init__(self) -> None:
        self.started: dict[str, Mapping[str, str]] = {}
        self.ended: dict[str, tuple[str, dict[str, str], str | None]] = {}

    def start(self, project: str, environment: Mapping[str, str]) -> str:
        build_id = f"arn:aws:codebuild:eu-west-1:111122223333:build/{project}:{len(self.started)}"
        self.started[build_id] = dict(environment)
        return build_id

    def finish(self, build_id: str, *, cause: str | None = None) -> None:
        """End the build: pushed what it was asked to (the same digests), or failed with ``cause``."""
        images = self.started[build_id]["SOURCE_IMAGES"].split()
        pushed = " ".join(f"{i.split('=', 1)[0]}={i.rsplit('@', 1)[1]}" for i in images)
        self.ended[build_id] = ("FAILED", {}, cause) if cause else ("SUCCEEDED", {"IMAGE_DIGESTS": pushed}, None)

    def find(self, project: str, marker: str, values: Collection[str]) -> dict[str, str]:
        return {env[marker]: build_id for build_id, env in self.started.items() if env.get(marker) in values}

    def results(self, build_ids: Sequence[str]) -> dict[str, Any]:
        from onboarding.codebuild_events import BuildResult

        found = {}
        for build_id in build_ids:
            if build_id in self.started:
                status, exported, cause = self.ended.get(build_id, ("IN_PROGRESS", {}, None))
                found[build_id] = BuildResult(build_id=build_id, status=status, exported=exported, cause=cause)
        return found
