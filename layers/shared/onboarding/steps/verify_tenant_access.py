"""VerifyTenantAccess: assume the onboarding role in the customer's account, with the tenant's ExternalId.

A missing or misconfigured role is permanent (not retried); the reason says exactly what the
customer deploys or fixes.
"""

from __future__ import annotations

from onboarding.errors import InvalidSignup, TenantAccessDenied
from onboarding.payloads import StepInput
from onboarding.ports import TenantAccounts
from onboarding.remote import bootstrap_command, role_arn


def verify_tenant_access(step: StepInput, *, accounts: TenantAccounts, provider_roles: str) -> str:
    account = step.signup.aws_account_id
    if account is None:
        raise InvalidSignup("VerifyTenantAccess needs a remote signup")
    arn = role_arn(account, step.tenant_id)
    try:
        accounts.assume(arn, step.tenant_id, f"verify-{step.tenant_id}"[:64])
    except TenantAccessDenied as exc:
        raise TenantAccessDenied(
            f"cannot assume {arn} with ExternalId {step.tenant_id} ({exc}). In account {account}, deploy the "
            f"tenant bootstrap stack: {bootstrap_command(step.tenant_id, provider_roles)}; if it is deployed, "
            f"check that its TenantId is {step.tenant_id} and that it trusts {provider_roles}"
        ) from exc
    return arn
