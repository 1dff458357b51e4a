"""Shared translation of botocore failures into domain errors."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from onboarding.errors import OnboardingError, StorageError, TransientError

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: Exception, what: str, permanent: type[OnboardingError] = StorageError) -> OnboardingError:
    """Map a boto failure onto TransientError (retried by the state machine) or a permanent domain error."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in TRANSIENT_CODES:
            return TransientError(f"{what}: {code}")
        return permanent(f"{what}: {code}: {exc.response.get('Error', {}).get('Message', '')}")
    if isinstance(exc, (ConnectionError, ReadTimeoutError)):
        return TransientError(f"{what}: {exc}")
    if isinstance(exc, BotoCoreError):
        return permanent(f"{what}: {exc}")
    raise exc
