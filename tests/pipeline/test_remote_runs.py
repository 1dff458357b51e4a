"""Remote tenant runs that need a local stack of their own: a build timeout other than the template's default.
The other remote tests share one stack in test_remote.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local.stack import LocalStack
from tests.utils.operations import events_of, run
from tests.utils.remote import remote_signup, repositories, tenant_ecr

pytestmark = pytest.mark.pipeline

ACCOUNT = "222222222222"


def test_a_build_state_event_that_never_comes_times_out(tmp_path: Path) -> None:
    with LocalStack(tmp_path / "s", parameters={"ArtifactBuildTimeoutSeconds": "5"}) as stack:
        tenant_id = derive_tenant_id("rm-lost")
        stack.bootstrap_tenant_account(ACCOUNT, tenant_id)
        stack.codebuild.drop_events = 1
        run(stack, remote_signup("rm-lost", "Lost Event", ACCOUNT))
        record = stack.tenant(tenant_id)
        assert record is not None
        assert record["status"] == "FAILED" and record["failedStep"] == "StartArtifactBuild"
        (failed,) = events_of(stack, "Tenant Onboarding Failed")
        assert failed["error"] == "States.Timeout" and failed["compensated"] is True
        assert repositories(tenant_ecr(stack, ACCOUNT, tenant_id)) == set()
        # the execution fails with a name of its own: "States." names are reserved for Step Functions
        (execution,) = stack.executions()
        assert (execution["status"], execution["error"]) == ("FAILED", "StepTimeout")
        assert execution["states"][-1]["name"] == "OnboardingFailed"
