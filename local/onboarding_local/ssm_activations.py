"""Systems Manager hybrid activations for moto, which lacks them.

``CreateActivation``, ``DescribeActivations`` and ``DeleteActivation`` are added to moto's SSM
service with the documented request and response shapes and errors, so the pipeline runs the same
code path locally as on AWS. State lives on moto's SSM backend, so a moto reset clears it.

``DescribeActivations`` filters as SSM does (``ActivationIds``, ``DefaultInstanceName``, ``IamRole``; any other
key is ``InvalidFilter``), pages with ``MaxResults`` (1-50) and ``NextToken``, and returns each activation's
``Tags``. For tests, :func:`lose_replies` makes the next calls of an operation take effect and then answer with
an error, as a reply lost after the call took effect (a read timeout) looks to the caller.
"""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges

MAX_EXPIRY = timedelta(days=30)


@dataclass
class Activation:
    activation_id: str
    activation_code: str
    iam_role: str
    registration_limit: int
    expiration: datetime
    default_instance_name: str | None
    description: str | None
    tags: list[dict[str, str]]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    registrations: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "ActivationId": self.activation_id,
            "Description": self.description or "",
            "DefaultInstanceName": self.default_instance_name or "",
            "IamRole": self.iam_role,
            "RegistrationLimit": self.registration_limit,
            "RegistrationsCount": self.registrations,
            "ExpirationDate": self.expiration,
            "Expired": self.expiration <= datetime.now(UTC),
            "CreatedDate": self.created,
            "Tags": self.tags,
        }


def _activations(backend: Any) -> dict[str, Activation]:
    store: dict[str, Activation] = backend.__dict__.setdefault("_local_hybrid_activations", {})
    return store


@dataclass
class _LostReply:
    code: str
    remaining: int


_LOST: dict[str, _LostReply] = {}  # operation -> the replies still to lose (for tests; cleared with the stack)
FILTER_ATTRIBUTES = {
    "ActivationIds": "activation_id",
    "DefaultInstanceName": "default_instance_name",
    "IamRole": "iam_role",
}
MAX_PAGE = 50


def lose_replies(operation: str, times: int = 1, code: str = "RequestTimeout") -> None:
    """The next ``times`` calls of ``operation`` (CreateActivation, DeleteActivation) take effect, then fail
    with ``code``: the caller cannot tell whether they did, as after a read timeout on AWS. For tests."""
    _LOST[operation] = _LostReply(code=code, remaining=times)


def _reply_lost(operation: str) -> str | None:
    lost = _LOST.get(operation)
    if lost is None or lost.remaining <= 0:
        return None
    lost.remaining -= 1
    return lost.code


def install(changes: ProcessChanges) -> None:
    """Add the three operations to moto's SSM responses (removed again when ``changes`` are restored)."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.ssm.responses import SimpleSystemManagerResponse

    class ValidationException(JsonRESTError):  # type: ignore[misc]  # moto is not followed (pyproject.toml)
        def __init__(self, message: str) -> None:
            super().__init__("ValidationException", message)

    class InvalidActivationId(JsonRESTError):  # type: ignore[misc]  # moto is not followed (pyproject.toml)
        def __init__(self, activation_id: str) -> None:
            super().__init__("InvalidActivationId", f"Activation ID {activation_id} is not valid.")

    class InvalidFilter(JsonRESTError):  # type: ignore[misc]  # moto is not followed (pyproject.toml)
        def __init__(self, message: str) -> None:
            super().__init__("InvalidFilter", message)

    class InvalidNextToken(JsonRESTError):  # type: ignore[misc]  # moto is not followed (pyproject.toml)
        def __init__(self) -> None:
            super().__init__("InvalidNextToken", "The specified token is not valid.")

    class LostReply(JsonRESTError):  # type: ignore[misc]  # moto is not followed (pyproject.toml)
        def __init__(self, code: str) -> None:
            super().__init__(code, "the reply was lost after the call took effect (injected by the local stack)")

    _LOST.clear()
    changes.on_restore(_LOST.clear)

    def create_activation(self: Any) -> ActionResult:
        role = self._get_param("IamRole")
        limit = int(self._get_param("RegistrationLimit", 1))
        raw_expiry = self._get_param("ExpirationDate")
        now = datetime.now(UTC)
        expiry = datetime.fromtimestamp(float(raw_expiry), UTC) if raw_expiry is not None else now + timedelta(hours=24)
        if not role:
            raise ValidationException(
                "1 validation error detected: Value null at 'iamRole' failed to satisfy constraint"
            )
        if not 1 <= limit <= 1000:
            raise ValidationException("RegistrationLimit must be between 1 and 1000")
        if expiry <= now or expiry - now > MAX_EXPIRY:
            raise ValidationException("ExpirationDate must be in the future and at most 30 days from now")
        alphabet = string.ascii_letters + string.digits + "+/"
        activation = Activation(
            activation_id=str(uuid.uuid4()),
            activation_code="".join(secrets.choice(alphabet) for _ in range(20)),
            iam_role=role,
            registration_limit=limit,
            expiration=expiry,
            default_instance_name=self._get_param("DefaultInstanceName"),
            description=self._get_param("Description"),
            tags=self._get_param("Tags") or [],
        )
        _activations(self.ssm_backend)[activation.activation_id] = activation
        lost = _reply_lost("CreateActivation")
        if lost is not None:
            raise LostReply(lost)
        return ActionResult({"ActivationId": activation.activation_id, "ActivationCode": activation.activation_code})

    def describe_activations(self: Any) -> ActionResult:
        found = sorted(_activations(self.ssm_backend).values(), key=lambda a: (a.created, a.activation_id))
        for flt in self._get_param("Filters") or []:
            key, values = flt.get("FilterKey"), set(flt.get("FilterValues", []))
            if key not in FILTER_ATTRIBUTES:
                raise InvalidFilter(f"FilterKey {key!r} is not one of {', '.join(FILTER_ATTRIBUTES)}")
            found = [a for a in found if getattr(a, FILTER_ATTRIBUTES[key]) in values]
        size = int(self._get_param("MaxResults", MAX_PAGE))
        if not 1 <= size <= MAX_PAGE:
            raise ValidationException(f"MaxResults must be between 1 and {MAX_PAGE}")
        token = self._get_param("NextToken")
        start = 0
        if token is not None:
            if not str(token).isdigit() or int(token) > len(found):
                raise InvalidNextToken()
            start = int(token)
        page: dict[str, Any] = {"ActivationList": [a.describe() for a in found[start : start + size]]}
        if start + size < len(found):
            page["NextToken"] = str(start + size)
        return ActionResult(page)

    def delete_activation(self: Any) -> ActionResult:
        activation_id = self._get_param("ActivationId")
        if _activations(self.ssm_backend).pop(activation_id, None) is None:
            raise InvalidActivationId(activation_id)
        lost = _reply_lost("DeleteActivation")
        if lost is not None:
            raise LostReply(lost)
        return ActionResult({})

    changes.patch(SimpleSystemManagerResponse, "create_activation", create_activation)
    changes.patch(SimpleSystemManagerResponse, "describe_activations", describe_activations)
    changes.patch(SimpleSystemManagerResponse, "delete_activation", delete_activation)
