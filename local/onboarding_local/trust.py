"""Role trust for moto's sts:AssumeRole, which otherwise lets anyone assume any role, even a missing one.

Enforced here, deliberately narrowly: the role must exist in the target account, its trust policy
must allow a principal of the caller's account, and a ``sts:ExternalId`` condition must match.
That is what a customer's mis-deployed bootstrap stack gets wrong. Everything else about IAM stays
unenforced locally and is tested as data and on AWS.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges

PROVIDER_ACCOUNT = "123456789012"


def _values(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def trust_allows(document: dict[str, Any], caller_account: str, external_id: str | None) -> str | None:
    """None when the trust policy lets ``caller_account`` in with ``external_id``; else why not."""
    statements = document.get("Statement") or []
    for statement in [statements] if isinstance(statements, dict) else statements:
        if statement.get("Effect") != "Allow" or "sts:AssumeRole" not in _values(statement.get("Action")):
            continue
        principals = _values((statement.get("Principal") or {}).get("AWS"))
        if not any(p == caller_account or f":{caller_account}:" in p for p in principals):
            continue
        wanted = (statement.get("Condition") or {}).get("StringEquals", {}).get("sts:ExternalId")
        if wanted is not None and wanted != external_id:
            return "the ExternalId does not match the role's trust policy"
        return None
    return f"the role's trust policy does not allow account {caller_account}"


def install(changes: ProcessChanges) -> None:
    """Enforce the trust check on moto's ``AssumeRole`` (undone when ``changes`` are restored)."""
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    class AccessDenied(STSClientError):  # type: ignore[misc]  # moto is not followed (pyproject.toml)
        code = "AccessDenied"

    original = STSBackend.assume_role

    def assume_role(
        self: Any,
        region_name: str,
        role_session_name: str,
        role_arn: str,
        policy: str,
        duration: int,
        external_id: str,
        **kwargs: Any,
    ) -> Any:
        parts = role_arn.split(":")
        account, name = parts[4], parts[5].split("/")[-1]
        roles = {r.name: r for r in iam_backends[account]["global"].roles.values()}
        role = roles.get(name)
        denied = (
            f"User: arn:aws:sts::{PROVIDER_ACCOUNT}:assumed-role/onboarding is not authorized to perform: "
            f"sts:AssumeRole on resource: {role_arn}"
        )
        if role is None:
            raise AccessDenied(f"{denied} (no such role)")
        document = role.assume_role_policy_document
        reason = trust_allows(
            json.loads(unquote(document)) if isinstance(document, str) else document, PROVIDER_ACCOUNT, external_id
        )
        if reason is not None:
            raise AccessDenied(f"{denied} ({reason})")
        return original(self, region_name, role_session_name, role_arn, policy, duration, external_id, **kwargs)

    changes.patch(STSBackend, "assume_role", assume_role)
