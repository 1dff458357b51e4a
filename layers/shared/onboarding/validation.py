"""What an intake answers: its outcome, and every contract violation named as on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from onboarding.contract import FieldError, HybridSpec, SignupRequested

_WIRE_NAMES = {
    name: info.alias or name for model in (SignupRequested, HybridSpec) for name, info in model.model_fields.items()
}


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


def field_errors(exc: ValidationError) -> list[FieldError]:
    """One entry per wrong field, named as on the wire (``hybrid.nodeCidrs.0``)."""
    errors = []
    for err in exc.errors(include_url=False):
        # pydantic reports a failing *default* under the Python name; the contract speaks camelCase.
        parts = [_WIRE_NAMES.get(part, part) if isinstance(part, str) else part for part in err["loc"]]
        field = ".".join(str(part) for part in parts) or "detail"
        message = err["msg"].removeprefix("Value error, ")
        errors.append(FieldError(field=field, message=message))
    return errors
