"""A fleet release case that needs a local stack of its own: approvals that time out within seconds
(ApprovalTimeoutSeconds 5; the module stack of test_release_cases.py waits 600 s, as its approvals come)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from tests.conftest import signup_event
from tests.utils.fleet import NewChart, chart_in_git, events_of, run

pytestmark = pytest.mark.pipeline


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Any]:
    from onboarding_local.stack import LocalStack

    parameters = {"ReleasePollSeconds": "1", "ReconcileTimeoutSeconds": "30", "ApprovalTimeoutSeconds": "5"}
    with LocalStack(tmp_path / "stack", parameters=parameters) as running:
        yield running


def test_an_approval_that_never_comes_stops_the_release_after_its_wave(stack: Any, tmp_path: Path) -> None:
    new = NewChart.make(stack, tmp_path)
    new.publish()
    run(stack, signup_event("ap-1", "Approve One"), signup_event("ap-2", "Approve Two"))
    first, second = derive_tenant_id("ap-1"), derive_tenant_id("ap-2")
    waves = [{"name": "first", "tenantIds": [first], "approval": True}, {"name": "second"}]
    run(stack, new.release("rel-1", waves=waves))
    (awaited,) = events_of(stack, "Fleet Release Awaiting Approval")
    assert (awaited["releaseId"], awaited["wave"]) == ("rel-1", "first")
    (halted,) = events_of(stack, "Fleet Release Halted")
    assert halted["wave"] == "first" and not events_of(stack, "Fleet Release Completed")
    assert stack.tenant(first)["chartVersion"] == new.version == chart_in_git(stack, first)  # its wave had passed
    assert stack.tenant(second)["chartVersion"] == chart_in_git(stack, second) != new.version
    # one release at a time was given back: the next release runs
    run(stack, new.release("rel-2", waves=[{"name": "rest", "tenantIds": [second]}]))
    assert events_of(stack, "Fleet Release Completed")[0]["releaseId"] == "rel-2"
