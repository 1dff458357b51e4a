"""The one translation of botocore failures into domain errors, used by every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from onboarding.errors import OnboardingError, StorageError, TransientError

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerError",
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
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


@contextmanager
def translated(what: str, permanent: type[OnboardingError] = StorageError) -> Iterator[None]:
    """Every boto failure inside the block leaves it as a domain error (``raise ... from`` the original).

    An expected error code is handled by catching ``ClientError`` inside the block and re-raising
    what is not expected, which this then translates.
    """
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, what, permanent) from exc
