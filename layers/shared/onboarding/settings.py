"""Configuration: pydantic models validated against the environment at invoke time, never at import.

A missing or malformed variable fails the invocation with a pydantic ValidationError naming the field; nothing
falls back silently. The environment is read as pydantic-settings would with ``case_sensitive=False`` and
``env_nested_delimiter="__"`` (the names this layer used it with): a field ``tenants_table`` is ``TENANTS_TABLE``
in any case, a list or model field is JSON (``CLUSTER_CIDRS='["10.0.0.0/16"]'``), and a model field can also be
given one sub-field at a time (``GITOPS_LAYOUT__TENANT_DOMAIN``). pydantic-settings itself is not imported: it
costs a cold start about 150 ms of CPU (asyncio, its CLI source, importlib.metadata) for this.
"""

from __future__ import annotations

import json
import os
import types
import typing
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from onboarding.manifests import GitOpsLayout

_NESTED = "__"
_COMPLEX_ORIGINS = (list, tuple, set, frozenset, dict)


def _is_complex(annotation: Any) -> bool:
    """Whether the environment gives this type as JSON: a model, a list, tuple, set or dict (or a union of one)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(_is_complex(arm) for arm in typing.get_args(annotation) if arm is not type(None))
    if origin is typing.Annotated:
        return _is_complex(typing.get_args(annotation)[0])
    if origin is not None:
        return origin in _COMPLEX_ORIGINS
    return annotation in _COMPLEX_ORIGINS or (isinstance(annotation, type) and issubclass(annotation, BaseModel))


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (also through ``X | None``), whose sub-fields may come one variable at a time."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for m in map(_model_of, typing.get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def _decoded(model: type[BaseModel], name: str, raw: str, annotation: Any) -> Any:
    if not _is_complex(annotation):
        return raw
    try:
        return json.loads(raw)
    except ValueError as exc:
        error = {"type": "json_invalid", "loc": (name,), "input": raw, "ctx": {"error": str(exc)}}
        raise ValidationError.from_exception_data(model.__name__, [error]) from None  # type: ignore[list-item]


def _values(model: type[BaseModel], env: dict[str, str], prefix: str = "") -> dict[str, Any]:
    """The fields of ``model`` found in ``env`` (names lowercased), JSON decoded where complex, nested by ``__``."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = prefix + name
        if key in env:
            values[name] = _decoded(model, name, env[key], field.annotation)
        nested = _model_of(field.annotation)
        if nested is not None and any(k.startswith(key + _NESTED) for k in env):
            parts = _values(nested, env, key + _NESTED)
            whole = values.get(name)
            values[name] = {**whole, **parts} if isinstance(whole, dict) else parts
    return values


class _Settings(BaseModel):
    """A settings model: ``XSettings()`` validates the process environment; keyword arguments override it.

    The alias generator is the identity on these lower-case names (the environment is matched lowercased); it
    also tells the pydantic mypy plugin that ``XSettings()`` needs no arguments, as it does for BaseSettings.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True, alias_generator=str.lower)

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        if not cls.__pydantic_complete__:
            cls.model_rebuild(_types_namespace=cls._annotation_types())
        env = {key.lower(): value for key, value in os.environ.items()}
        super().__init__(**{**_values(cls, env), **values})

    @classmethod
    def _annotation_types(cls) -> dict[str, Any]:
        """Types named in annotations but imported only on first use (see LayoutSettings)."""
        return {}


class ReconcileTimeoutSettings(_Settings):
    reconcile_timeout_seconds: int = Field(ge=10, le=86400, description="How long a change waits for Flux's verdict")


class TenantStoreSettings(_Settings):
    tenants_table: str = Field(min_length=3)
    tenant_names_table: str = Field(min_length=3)


class EventSettings(_Settings):
    event_bus_name: str = Field(min_length=1)
    status_event_source: str = Field(min_length=1)


class StepSettings(TenantStoreSettings, EventSettings):
    """RegisterTenant, ActivateTenant, RecordFailure."""


class IntakeSettings(StepSettings):
    onboarding_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    idempotency_table: str = Field(min_length=3)


def _default_layout() -> GitOpsLayout:
    from onboarding.manifests import GitOpsLayout

    return GitOpsLayout()


class LayoutSettings(_Settings):
    gitops_layout: GitOpsLayout = Field(default_factory=_default_layout)

    @classmethod
    def _annotation_types(cls) -> dict[str, Any]:
        # onboarding.manifests (PyYAML and the whole contract) loads with the first settings that need its layout.
        from onboarding.manifests import GitOpsLayout

        return {"GitOpsLayout": GitOpsLayout}


class GitOpsSettings(LayoutSettings):
    gitops_repo_url: str = Field(pattern=r"^(https?|git|ssh)://")
    gitops_branch: str = Field(min_length=1)
    gitops_token_secret_arn: str | None = Field(
        default=None, description="Secrets Manager secret holding the HTTPS token; none for git:// or ssh://"
    )


class GitOpsBatchSettings(GitOpsSettings):
    """The batching writer (onboarding.batching): its queue table, gather window and batch bound."""

    gitops_queue_table: str = Field(min_length=3)
    gitops_gather_ms: int = Field(ge=0, le=10000, description="How long the oldest pending change waits for others")
    gitops_batch_max_changes: int = Field(ge=1, le=1000, description="At most this many changes per commit")


class CommitGitOpsSettings(GitOpsBatchSettings, ReconcileTimeoutSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")


class UpdateGitOpsSettings(GitOpsBatchSettings, ReconcileTimeoutSettings):
    pass


class CompensateSettings(TenantStoreSettings, GitOpsSettings):
    pass


class LifecycleIntakeSettings(EventSettings):
    lifecycle_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")


class CompleteOperationSettings(StepSettings):
    name_release_after_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's name stays reserved")
    data_retention_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's data is kept")


class ClusterSettings(_Settings):
    cluster_cidrs: list[IPv4Network] = Field(description="The cluster's own VPC, pod and service ranges (JSON list)")


class SignupIntakeSettings(IntakeSettings, ClusterSettings):
    name_release_after_days: int = Field(ge=0, le=3650, description="Days an offboarded tenant's name stays reserved")


class HybridSettings(_Settings):
    hybrid_nodes_role: str = Field(min_length=1, description="IAM role the hybrid nodes assume (EKS Hybrid Nodes role)")
    activation_expiry_days: int = Field(ge=1, le=30)
    tenant_secret_prefix: str = Field(min_length=1)
    handover_bucket: str = Field(min_length=3)
    cluster_name: str = Field(min_length=1)
    aws_region: str = Field(min_length=1)


class CreateHybridActivationSettings(HybridSettings, LayoutSettings):
    pass


class NetworkClaimsSettings(_Settings):
    network_claims_table: str = Field(min_length=3)


class RegisterSettings(StepSettings, NetworkClaimsSettings):
    pass


class HybridCompensateSettings(CompensateSettings, HybridSettings, NetworkClaimsSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")


class ReleaseHybridSettings(TenantStoreSettings, HybridSettings, NetworkClaimsSettings):
    pass


class RemoteSettings(_Settings):
    provider_pipeline_role_arns: str = Field(min_length=1, description="Roles the tenant bootstrap must trust")


class EnsureRegistrySettings(RemoteSettings):
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
    artifact_build_timeout_seconds: int = Field(ge=5, le=28800)


class StartBuildSettings(_Settings):
    artifact_build_project: str = Field(min_length=2)
    pending_builds_table: str = Field(min_length=3)


class BuildCallbackSettings(_Settings):
    pending_builds_table: str = Field(min_length=3)


class RetentionSettings(_Settings):
    remote_repository_retention: Literal["retain", "delete"]


class RevertSettings(GitOpsSettings, TenantStoreSettings):
    pass


class ReconcileSettings(_Settings):
    reconcile_table: str = Field(min_length=3)
    reconcile_feedback: Literal["flux", "none"] = Field(description="flux: wait for Flux's verdict; none: do not")


class FluxReceiverSettings(TenantStoreSettings, ReconcileSettings):
    flux_receiver_token_secret: str = Field(min_length=1, description="Secrets Manager secret of the master token")


class SbtAnswerSettings(EventSettings):
    """SbtAnswer: the links of SBT's requests, and the source of the answers per vocabulary."""

    sbt_registrations_table: str = Field(min_length=3)
    sbt_application_plane_source: str = Field(min_length=1, description="Source of answers in v0.9's names")
    sbt_legacy_application_plane_source: str = Field(min_length=1, description="Source of answers in earlier names")


class SbtIntakeSettings(SbtAnswerSettings):
    """SbtIntake: which of SBT's vocabularies are accepted, and where its requests are put back as ours."""

    sbt_vocabulary: Literal["both", "v09", "legacy"] = Field(description="SBT's names accepted: both, v09, legacy")
    signup_event_source: str = Field(min_length=1, description="Source of our own signup and lifecycle requests")


class ReleaseSettings(StepSettings, GitOpsSettings, ReconcileTimeoutSettings):
    """Every function of the release state machine (one environment for all of them)."""

    releases_table: str = Field(min_length=3)
    reconcile_table: str = Field(min_length=3)
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
    release_poll_seconds: int = Field(ge=1, le=3600, description="How often a wave's verdicts are tallied")
    approval_timeout_seconds: int = Field(ge=5, le=31536000, description="How long an approval is waited for")


class ReleaseCopySettings(ReleaseSettings):
    """CopyWaveImages and TallyWaveImages: the copy build of onboarding, run for a release's remote tenants."""

    artifact_build_project: str = Field(min_length=2)
    artifact_build_timeout_seconds: int = Field(ge=5, le=28800)


class ReleaseIntakeSettings(EventSettings, TenantStoreSettings, GitOpsSettings):
    """GitOps and the tenants too: a release execution that ended without finishing has its tenants put back."""

    releases_table: str = Field(min_length=3)
    release_state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    release_parameter: str = Field(min_length=1, description="SSM parameter holding the release JSON")
