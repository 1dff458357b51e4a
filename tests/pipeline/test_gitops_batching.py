"""Bursts on the local stack: the batching GitOps writer puts many tenants' files in one commit, each execution
learns the commit carrying its own files, and a batch the remote refuses fails only its own tenants."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local.observe import plain
from tests.conftest import signup_event
from tests.utils.paths import has_no_cluster_file, tenant_file

pytestmark = pytest.mark.pipeline


def burst(stack: Any, prefix: str, size: int) -> list[str]:
    events = [
        signup_event(f"{prefix}-{i}", f"{prefix.title()} Tenant {i}", ("basic", "premium")[i % 2]) for i in range(size)
    ]
    stack.put_events(events)
    stack.wait_idle(300)
    return [derive_tenant_id(e["detail"]["signupId"]) for e in events]


def commits_writing(stack: Any, path: str) -> list[str]:
    return stack.git.git("log", "--format=%H", "main", "--", path).split()


def onboarded(stack: Any) -> dict[str, dict[str, Any]]:
    return {
        e["detail"]["tenantId"]: e["detail"] for e in stack.status_events() if e["detail-type"] == "Tenant Onboarded"
    }


def queue_items(stack: Any) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    de = TypeDeserializer()
    items = stack.client("dynamodb").scan(TableName="GitOpsQueueTable", ConsistentRead=True)["Items"]
    return [{k: plain(de.deserialize(v)) for k, v in item.items()} for item in items]


def test_a_burst_shares_commits_and_each_execution_learns_the_commit_of_its_own_files(stack: Any) -> None:
    # Given a burst of signups put at once
    tenants = burst(stack, "batch", 12)
    # Then every tenant is ACTIVE, its file written by exactly one commit: the one its execution learned
    events = onboarded(stack)
    for tenant_id in tenants:
        record = stack.tenant(tenant_id)
        assert record["status"] == "ACTIVE"
        (commit,) = commits_writing(stack, tenant_file(tenant_id))
        assert record["gitCommit"] == events[tenant_id]["gitCommit"] == commit
    # And the files shared commits: fewer pushes than tenants
    pushes = {stack.tenant(t)["gitCommit"] for t in tenants}
    assert len(pushes) < len(tenants)
    batch_messages = [stack.git.git("log", "-1", "--format=%B", sha) for sha in pushes]
    for tenant_id in tenants:  # every tenant is named in the message of the commit that carries it
        assert sum(f"Onboard tenant {tenant_id} " in message for message in batch_messages) == 1
    # And CommitGitOps is still one state per execution, its duration that execution's GitOps write
    for execution in stack.executions():
        assert [s["name"] for s in execution["states"]].count("CommitGitOps") == 1
        (state,) = [s for s in execution["states"] if s["name"] == "CommitGitOps"]
        assert state["status"] == "succeeded" and state["durationMs"] > 0
    assert not [i for i in queue_items(stack) if "queue" in i]  # nothing left pending


REJECT_HOOK = """#!/bin/sh
# refuse any push that writes the poisoned tenant's file (a server-side policy, say)
while read old new ref; do
  if [ "$old" != "0000000000000000000000000000000000000000" ] && \\
     git diff --name-only "$old" "$new" | grep -q "{path}"; then
    echo "policy: {path} refused" >&2
    exit 1
  fi
done
exit 0
"""


def test_a_batch_the_remote_refuses_fails_only_its_own_tenants_and_they_are_compensated(stack: Any) -> None:
    # Given a remote that refuses any push carrying one tenant's file
    poison = derive_tenant_id("poison-3")
    hook = stack.git.repo / "hooks" / "pre-receive"
    hook.write_text(REJECT_HOOK.format(path=tenant_file(poison)))
    hook.chmod(0o755)
    # When a burst that includes it is onboarded
    tenants = burst(stack, "poison", 10)
    assert poison in tenants
    # Then the batches the remote refused are exactly the failed tenants' batches, and the poisoned one is among them
    items = [i for i in queue_items(stack) if "batch" in i]
    refused = {i["batch"] for i in items if i.get("error") == "GitOpsPushRejected"}
    in_refused = {i["ticket"].split("#")[0] for i in items if i["batch"] in refused}
    statuses = {t: stack.tenant(t)["status"] for t in tenants}
    failed = {t for t, status in statuses.items() if status == "FAILED"}
    assert poison in failed and failed == in_refused
    assert Counter(statuses.values()) == Counter({"FAILED": len(failed), "ACTIVE": len(tenants) - len(failed)})
    # each failed tenant failed at CommitGitOps with the batch's error, was compensated, left no file behind
    failures = {
        e["detail"]["tenantId"]: e["detail"]
        for e in stack.status_events()
        if e["detail-type"] == "Tenant Onboarding Failed"
    }
    for tenant_id in failed:
        assert failures[tenant_id]["failedStep"] == "CommitGitOps"
        assert failures[tenant_id]["error"] == "GitOpsPushRejected" and failures[tenant_id]["compensated"] is True
        assert has_no_cluster_file(stack.git, tenant_id)
    # And later batches, with the hook still there, commit as usual
    later = burst(stack, "after", 4)
    # the others are ACTIVE, each with the commit of its own files
    events = onboarded(stack)
    for tenant_id in (set(tenants) - failed) | set(later):
        (commit,) = commits_writing(stack, tenant_file(tenant_id))
        assert stack.tenant(tenant_id)["gitCommit"] == events[tenant_id]["gitCommit"] == commit
