"""Domain exceptions.

Lambda reports the exception class name as the error type, and the state machines route on it:
``Retry`` lists the transient classes, ``Catch`` takes the rest. Never route on message text.
"""


class OnboardingError(Exception):
    """Base class of every error the domain raises on purpose."""


# --- transient: retried by the state machine with backoff -------------------------------------
class TransientError(OnboardingError):
    """A dependency was throttled, timed out or was briefly unavailable. Safe to retry."""


class GitOpsConflict(OnboardingError):
    """The GitOps branch kept moving: every bounded fetch/re-apply/push attempt was rejected."""


# --- permanent: not retried, compensated ----------------------------------------------------
class InvalidSignup(OnboardingError):
    """The signup (or the tenant it made) lacks what a step needs: the event contract was not met."""


class TenantNameTaken(OnboardingError):
    """Another tenant already uses this name (compared case- and accent-insensitively)."""


class TenantConflict(OnboardingError):
    """The tenant record is owned by another execution or is in a state this step cannot move."""


class TenantNotFound(OnboardingError):
    """No tenant record exists where one must."""


class GitRemoteUnavailable(OnboardingError):
    """The GitOps remote cannot be reached or refused the credentials."""


class GitOpsPushRejected(OnboardingError):
    """The GitOps remote rejected the push for a reason other than a moved branch."""


class GitOpsBatchFailed(OnboardingError):
    """The batch of GitOps changes carrying this tenant's failed for a reason the writer does not name."""


class GitOpsChangeTooLarge(OnboardingError):
    """A tenant's files do not fit one pending change of the batching writer (DynamoDB's 400 KB item)."""


class DeploymentModelNotSupported(OnboardingError):
    """The requested deployment model has no provisioning branch yet."""


class StorageError(OnboardingError):
    """DynamoDB rejected a request for a non-transient reason."""


class EventPublishFailed(OnboardingError):
    """EventBridge did not accept every status event; a dropped status event is a bug."""


TRANSIENT_ERRORS = (TransientError, GitOpsConflict)


class BranchMoved(OnboardingError):
    """Internal to the GitOps writer: the remote branch is no longer the commit a change was built on."""


class TenantBusy(OnboardingError):
    """Another lifecycle operation holds the tenant's lock. Retried within a bound, then rejected."""


class OperationRejected(OnboardingError):
    """The lifecycle operation is not allowed for this tenant now (unknown, onboarding, failed, same tier...)."""


class CidrConflict(OnboardingError):
    """A hybrid tenant's CIDRs overlap the cluster's ranges or another tenant's ranges."""


class ActivationFailed(OnboardingError):
    """Systems Manager refused the hybrid activation (role, limit or expiry)."""


class TenantAccessDenied(OnboardingError):
    """The tenant account's onboarding role is missing or does not trust the pipeline. Not retried."""


class ArtifactBuildFailed(OnboardingError):
    """The build copying the release into the tenant's registry failed, stopped or timed out."""


class ReleaseUnavailable(OnboardingError):
    """The release configuration (version and images) is missing or malformed."""


class ReleaseHalted(OnboardingError):
    """A fleet release stopped: a wave failed beyond its tolerated failures (raised by the release's Fail state)."""


class ReleaseAborted(OnboardingError):
    """A fleet release stopped after a wave because 'Fleet Release Aborted' (or no approval in time) said so."""


class InvalidReleaseRequest(OnboardingError):
    """A fleet release request that cannot apply to the release as it now is (e.g. an image it does not have)."""
