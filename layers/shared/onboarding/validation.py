"""What an intake answers: its outcome, and every contract violation named as on the wire, bounded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ValidationError

from onboarding.contract.common import MAX_REJECTION_ERRORS, ContractModel, FieldError

# A rejection event stays far below EventBridge's 256 KB per entry, whatever the signup held: at most
# MAX_REJECTION_ERRORS errors and ERRORS_BUDGET bytes of them, each field and message cut to a sane length.
FIELD_MAX = 200
MESSAGE_MAX = 500
ERRORS_BUDGET = 64 * 1024
ECHO_MAX = 256  # an identifier echoed from a rejected detail (signupId, tenantId, operationId), when not longer


@dataclass(frozen=True)
class IntakeResult:
    outcome: str  # "started" | "duplicate" | "rejected"
    tenant_id: str | None = None
    execution: str | None = None
    errors: tuple[FieldError, ...] = ()

    def wire(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "tenantId": self.tenant_id,
            "execution": self.execution,
            "errors": [e.wire() for e in self.errors],
        }


@cache
def _wire_names() -> dict[str, str]:
    """Every inbound field's wire name by its Python name. Built at the first rejection: the catalog builds
    every contract model, which a cold start of a function that speaks one conversation need not pay."""
    from onboarding.contract.catalog import INBOUND_DETAIL_TYPES
    from onboarding.contract.signup import HybridSpec

    models: list[type[ContractModel]] = [*INBOUND_DETAIL_TYPES, HybridSpec]
    return {name: info.alias or name for model in models for name, info in model.model_fields.items()}


def field_errors(exc: ValidationError) -> list[FieldError]:
    """One entry per violation, at its own path as on the wire (``hybrid.nodeCidrs.1``)."""
    errors = []
    for err in exc.errors(include_url=False):
        # pydantic reports a failing *default* under the Python name; the contract speaks camelCase. An unknown
        # key is named exactly as it was sent (``tenant_name`` is not ``tenantName``).
        named = err["loc"][:-1] if err["type"] == "extra_forbidden" else err["loc"]
        parts = [_wire_names().get(part, part) if isinstance(part, str) else part for part in named]
        parts += err["loc"][len(named) :]
        field = ".".join(str(part) for part in parts) or "detail"
        message = err["msg"].removeprefix("Value error, ")
        errors.append(FieldError(field=field, message=message))
    return errors


def _text(value: str, limit: int) -> str:
    """``value`` as text EventBridge takes (no lone surrogates), cut to ``limit`` characters."""
    value = value.encode("utf-8", "replace").decode("utf-8")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _size(error: FieldError) -> int:
    return len(json.dumps(error.wire(), ensure_ascii=False).encode("utf-8"))


def bounded(errors: Sequence[FieldError]) -> list[FieldError]:
    """The errors a rejection carries: the first ones, each cut to length, then one ``detail`` error counting the rest.

    At most MAX_REJECTION_ERRORS + 1 errors and about ERRORS_BUDGET bytes, so the event always fits.
    """
    kept: list[FieldError] = []
    used = 0
    for error in errors:
        short = FieldError(field=_text(error.field, FIELD_MAX), message=_text(error.message, MESSAGE_MAX))
        if len(kept) == MAX_REJECTION_ERRORS or used + _size(short) > ERRORS_BUDGET:
            break
        kept.append(short)
        used += _size(short)
    if (more := len(errors) - len(kept)) > 0:
        kept.append(FieldError(field="detail", message=f"... and {more} more violation{'s' if more > 1 else ''}"))
    return kept


def echoed(detail: Any, key: str) -> str | None:
    """An identifier of a rejected detail to echo back: a non-empty string of at most ECHO_MAX characters."""
    value = detail.get(key) if isinstance(detail, dict) else None
    if isinstance(value, str) and 0 < len(value) <= ECHO_MAX:
        return _text(value, ECHO_MAX)
    return None
