"""The remote application plane: the customer's onboarding role and the tenant's repositories."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from onboarding.delivery import chart_repository, manifests_repository
from onboarding.payloads import StepInput
from onboarding.ports import TenantAccounts, TenantRegistryClient

ROLE_PREFIX = "saas-onboarding-"
RegistryFactory = Callable[[Mapping[str, str], str], TenantRegistryClient]


def role_arn(account: str, tenant_id: str) -> str:
    return f"arn:aws:iam::{account}:role/{ROLE_PREFIX}{tenant_id}"


def bootstrap_command(tenant_id: str, provider_roles: str) -> str:
    return (
        "aws cloudformation deploy --template-file tenant-account/bootstrap.yaml "
        f"--stack-name saas-onboarding-{tenant_id} --capabilities CAPABILITY_NAMED_IAM "
        f"--parameter-overrides TenantId={tenant_id} ProviderPipelineRoleArns={provider_roles}"
    )


def repository_name(tenant_id: str, image: str) -> str:
    return f"{tenant_id}/{image}"


def remove_created_repositories(
    step: StepInput, *, accounts: TenantAccounts, registry_for: RegistryFactory, image_names: list[str]
) -> list[str]:
    """Compensation: delete the repositories this execution created (found by their tag), and only those."""
    account, region = step.signup.aws_account_id, step.signup.region
    if account is None or region is None:
        return []
    registry = registry_for(
        accounts.assume(role_arn(account, step.tenant_id), step.tenant_id, f"cleanup-{step.tenant_id}"[:64]), region
    )
    removed = []
    candidates = [repository_name(step.tenant_id, image) for image in image_names]
    candidates += [chart_repository(step.tenant_id), manifests_repository(step.tenant_id)]
    for name in registry.created_by(candidates, step.execution):
        if registry.delete(name):
            removed.append(name)
    return removed
