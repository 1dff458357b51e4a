"""EnsureTenantRegistry: one ECR repository per release image, in the customer's account, under the tenant.

Idempotent: existing repositories are reused. Repositories this execution creates are tagged with
it, so compensation deletes those and nothing else.
"""

from __future__ import annotations

from onboarding.delivery import chart_repository, manifests_repository
from onboarding.errors import InvalidSignup
from onboarding.payloads import RegistryRepository, StepInput, TenantRegistry
from onboarding.ports import TenantAccounts
from onboarding.records import Release
from onboarding.remote import RegistryFactory, repository_name, role_arn


def ensure_tenant_registry(
    step: StepInput,
    *,
    accounts: TenantAccounts,
    registry_for: RegistryFactory,
    release: Release,
    build_timeout_seconds: int,
) -> TenantRegistry:
    account, region = step.signup.aws_account_id, step.signup.region
    if account is None or region is None:
        raise InvalidSignup("EnsureTenantRegistry needs a remote signup")
    arn = role_arn(account, step.tenant_id)
    registry = registry_for(accounts.assume(arn, step.tenant_id, f"registry-{step.tenant_id}"[:64]), region)
    tags = {"tenantId": step.tenant_id, "execution": step.execution, "managed-by": "tenant-onboarding"}
    repositories = []
    for image in release.images:
        name = repository_name(step.tenant_id, image.name)
        uri, created = registry.ensure(name, tags)
        repositories.append(RegistryRepository(name=name, uri=uri, created=created))
    # the tenant chart (copied by the build) and the tenant's manifests (a Flux artifact, re-tagged `latest`)
    registry.ensure(chart_repository(step.tenant_id), tags)
    registry.ensure(manifests_repository(step.tenant_id), tags, mutable=True)
    return TenantRegistry(
        role_arn=arn,
        account=account,
        region=region,
        repositories=repositories,
        release=release,
        build_timeout_seconds=build_timeout_seconds,
    )
