"""Configuration: pydantic models validated against the environment at invoke time, never at import.

A missing or malformed variable fails the invocation with a pydantic ValidationError naming the field; nothing
falls back silently. The environment is read as pydantic-settings would with ``case_sensitive=False`` and
``env_nested_delimiter="__"`` (the names this layer used it with): a field ``tenants_table`` is ``TENANTS_TABLE``
in any case, a list or model field is JSON (``CLUSTER_CIDRS='["10.0.0.0/16"]'``), and a model field can also be
given one sub-field at a time (``GITOPS_LAYOUT__TENANT_DOMAIN``). pydantic-settings itself is not imported: it
costs a cold start about 150 ms of CPU (asyncio, its CLI source, importlib.metadata) for this.

This package holds the base and the settings shared by most functions (tenant store, events, steps, the
GitOps repository and its layout). Each area's own settings live in a module of their own (``signup``,
``gitops``, ``compensate``, ``lifecycle``, ``hybrid``, ``remote``, ``reconcile``, ``sbt``, ``release``): a
function imports the one it reads, so its cold start builds a handful of these models, not all of them.
"""

from __future__ import annotations

import json
import os
import types
import typing
from typing import TYPE_CHECKING, Any

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


class Settings(BaseModel):
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


class ReconcileTimeoutSettings(Settings):
    reconcile_timeout_seconds: int = Field(ge=10, le=86400, description="How long a change waits for Flux's verdict")


class TenantStoreSettings(Settings):
    tenants_table: str = Field(min_length=3)
    tenant_names_table: str = Field(min_length=3)


class EventSettings(Settings):
    event_bus_name: str = Field(min_length=1)
    status_event_source: str = Field(min_length=1)


class StepSettings(TenantStoreSettings, EventSettings):
    """RegisterTenant, ActivateTenant, RecordFailure."""


def _default_layout() -> GitOpsLayout:
    from onboarding.manifests import GitOpsLayout

    return GitOpsLayout()


class LayoutSettings(Settings):
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
