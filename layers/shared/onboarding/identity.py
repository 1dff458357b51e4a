"""Tenant identity: the tenantId derived from signupId, and the key that makes names unique."""

from __future__ import annotations

import hashlib
import re
import unicodedata

TENANT_ID_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SLUG_MAX = 40
_HASH_LEN = 10


def _slug_and_hash(prefix: str, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:_HASH_LEN]
    ascii_only = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")[:_SLUG_MAX].strip("-")
    return f"{prefix}-{slug}-{digest}" if slug else f"{prefix}-{digest}"


def operation_execution_name(operation_id: str) -> str:
    """The lifecycle execution name for an operationId: one execution per operation, ever."""
    return _slug_and_hash("op", operation_id)


def derive_tenant_id(signup_id: str) -> str:
    """Return the tenant id for a signup: ``t-<slug>-<hash>``, a DNS-1123 label of at most 53 characters.

    The slug keeps the id readable in the console; the hash of the full signupId keeps it unique,
    so two signupIds that slug alike still get different tenants. The 10 characters left below 63
    leave room for an attempt suffix on execution names.
    """
    return _slug_and_hash("t", signup_id)


def name_key(tenant_name: str) -> str:
    """The uniqueness key of a display name: ``sha256:`` and the hex digest of the name case-folded, accents and
    invisible format characters (ZWNJ, ZWJ, soft hyphen) removed, whitespace collapsed.

    "Café  Ltd", "CAFE LTD" and "cafe ltd" share one key. Hashed, the key is 71 bytes for any accepted name
    (100 wide characters can exceed DynamoDB's 2,048-byte key limit once decomposed).
    """
    decomposed = unicodedata.normalize("NFKD", tenant_name)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf")
    normalized = " ".join(kept.casefold().split())
    return "sha256:" + hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def execution_name(tenant_id: str, attempt: int) -> str:
    """The onboarding execution name: the tenant id, suffixed from the second attempt on."""
    return tenant_id if attempt <= 1 else f"{tenant_id}-a{attempt}"
