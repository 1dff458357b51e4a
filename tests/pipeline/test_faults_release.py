"""Fault injection at the adapter calls of the fleet release pipeline (issue 15's quality bar).

Releases run one at a time (ReleaseIntake's claim), so the cases share one small fleet on one local stack and
run one release after the other: a pooled tenant and a remote one, each release one wave to a chart version its
tenant does not run: the pooled tenant, or the remote one for a release with images (which copies them into its
own ECR, by the CodeBuild emulation). A fault per case (some carry a second, in a later step, and a failed
release one more where it puts the tenants back): throttling, a timeout before the call took effect, a lost
reply (the call took effect, then a read timeout) on every kind of call whose effect is uncertain, a git reset
before and after the push landed. For each: the faults fired; no execution runs; the release's record says
truly how it ended; every tenant's record (chart version, release version, images) agrees with its HelmRelease
in git and none is left locked; the release parameter names what the fleet runs; the outcome events tell the
truth (a transient fault ends in a completed release, a Flux failure or a permanent fault halts it with the
tenants put back); a release with images ran exactly one copy build.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from onboarding.identity import derive_tenant_id
from onboarding_local.agreement import Findings, Inspector, running_executions
from onboarding_local.charts import publish_charts
from onboarding_local.faults import LOST_REPLY, RESET_AFTER, RESET_BEFORE, THROTTLE, TIMEOUT_BEFORE, Rule, arm
from onboarding_local.registry import seed_release
from tests.conftest import REPO, signup_event

pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("faults-release")]
ACCOUNT, REGION = "222222222222", "eu-west-1"
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")  # published (1.0.0 by the stack); each release goes to one no tenant runs
POOLED, REMOTE = derive_tenant_id("frel-pooled"), derive_tenant_id("frel-remote")
FLEET = (POOLED, REMOTE)
PERMANENT = "error:ValidationException"
FLUX_FAILED = "Helm upgrade failed: injected by the test"


@dataclass
class Case:
    id: str
    function: str
    target: str
    kind: str
    expect: str = "completed"  # "completed"; "halted": Flux fails the pooled tenant, the wave is rolled back;
    # "failed": a permanent fault, FailRelease puts back what the release holds
    after: int = 0  # matching calls that succeed first
    images: bool = False  # a release with images: one copy build into the remote tenant's ECR
    extra: list[Rule] = field(default_factory=list)  # a further fault, where the release is put back
    index: int = 0

    @property
    def release_id(self) -> str:
        return f"frel-{self.index:02d}"

    @property
    def tenants(self) -> tuple[str, ...]:
        """The release's one wave: the pooled tenant, or the remote one for a release with images."""
        return (REMOTE,) if self.images else (POOLED,)


def failed(name: str, at: tuple[str, str], then: tuple[str, str], **kwargs: Any) -> Case:
    """A permanent fault at ``at`` (function, call); FailRelease meets ``then`` (call, kind) putting it back."""
    rule = Rule(target=then[0], kind=then[1], function="FailReleaseFunction")
    return Case(name, at[0], at[1], PERMANENT, "failed", extra=[rule], **kwargs)


CASES = [
    # a transient fault: retried, the release completes. Every call whose effect is uncertain loses its reply
    # somewhere (DynamoDB's conditional writes, SSM PutParameter, CodeBuild StartBuild, EventBridge PutEvents).
    # Releases run one at a time, so some cases carry a second fault, in a later step, to keep them few.
    Case("plan-record-lost-reply", "PlanReleaseFunction", "dynamodb.PutItem", LOST_REPLY, after=4),  # after 2 waves
    Case("copy-start-lost-reply", "CopyWaveImagesFunction", "codebuild.StartBuild", LOST_REPLY, images=True),
    Case(
        "commit-lock-lost-reply",
        "CommitWaveFunction",
        "dynamodb.UpdateItem",
        LOST_REPLY,
        extra=[Rule(target="dynamodb.UpdateItem", kind=LOST_REPLY, function="FinishWaveFunction")],
    ),
    Case(
        "commit-push-reset-before",
        "CommitWaveFunction",
        "git.push",
        RESET_BEFORE,
        extra=[Rule(target="dynamodb.Query", kind=THROTTLE, function="TallyWaveFunction")],
    ),
    Case("commit-push-reset-after", "CommitWaveFunction", "git.push", RESET_AFTER, images=True),
    # the wave's record after the push landed (its record before the push is 2 items)
    Case("commit-record-timeout", "CommitWaveFunction", "dynamodb.PutItem", TIMEOUT_BEFORE, after=2),
    Case(
        "complete-announce-lost-reply",
        "CompleteReleaseFunction",
        "events.PutEvents",
        LOST_REPLY,
        extra=[Rule(target="states.StartExecution", kind=LOST_REPLY, function="ReleaseIntakeFunction")],
    ),
    # Flux fails the wave's tenant: the wave is rolled back and the release halted, through faults
    Case("halted-commit-record-timeout", "CommitWaveFunction", "dynamodb.PutItem", TIMEOUT_BEFORE, "halted", after=2),
    Case(
        "halted-rollback-push-reset-after",
        "RollbackWaveFunction",
        "git.push",
        RESET_AFTER,
        "halted",
        images=True,
        extra=[Rule(target="ssm.PutParameter", kind=LOST_REPLY, function="HaltReleaseFunction")],
    ),
    # a permanent fault: FailRelease puts back what the release holds, meeting a fault itself
    failed(
        "failed-tally-push-reset-after", ("TallyWaveFunction", "dynamodb.Query"), ("git.push", RESET_AFTER), images=True
    ),
    failed(
        "failed-tally-unlock-lost-reply", ("TallyWaveFunction", "dynamodb.Query"), ("dynamodb.UpdateItem", LOST_REPLY)
    ),
]
for _n, _case in enumerate(CASES):
    _case.index = _n


@dataclass
class Outcome:
    before: dict[str, dict[str, Any]]  # each tenant's record before the release
    target: str  # the chart version the release moved to
    parameter_before: dict[str, Any]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    release: dict[str, Any] | None = None  # the release's record (ReleasesTable)
    parameter: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Findings] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # the release's events: {"type", **detail}
    copies: dict[str, int] = field(default_factory=dict)  # remote tenant -> copy builds of this release
    unfired: list[Rule] = field(default_factory=list)
    running: list[str] = field(default_factory=list)


def publish(stack: Any, tmp: Path) -> None:
    for version in VERSIONS[1:]:
        charts = tmp / f"charts-{version}" / "tenant"
        shutil.copytree(REPO / "charts" / "tenant", charts)
        meta = yaml.safe_load((charts / "Chart.yaml").read_text(encoding="utf-8"))
        (charts / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": version}), encoding="utf-8")
        publish_charts(charts.parent, stack.release_registry.host, stack.workdir)


def parameter(stack: Any) -> dict[str, Any]:
    name = stack.template.params.get("ReleaseParameterName", "/saas/release/current")
    value: dict[str, Any] = yaml.safe_load(stack.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
    return value


def release_record(stack: Any, release_id: str) -> dict[str, Any] | None:
    from onboarding.adapters.dynamodb.codec import from_item

    item = (
        stack.client("dynamodb")
        .get_item(
            TableName="ReleasesTable",
            Key={"releaseId": {"S": release_id}, "key": {"S": "release"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return from_item(item) if item else None


def copy_builds(stack: Any, release_id: str) -> dict[str, int]:
    """Copy builds CodeBuild ran for this release, per target tenant (RELEASE_VERSION is the release's id)."""
    codebuild = stack.client("codebuild")
    counts: dict[str, int] = {}
    for project in codebuild.list_projects()["projects"]:
        ids = codebuild.list_builds_for_project(projectName=project)["ids"]
        for start in range(0, len(ids), 100):
            for build in codebuild.batch_get_builds(ids=ids[start : start + 100])["builds"]:
                env = {v["name"]: v["value"] for v in build.get("environment", {}).get("environmentVariables", [])}
                if env.get("RELEASE_VERSION") == release_id:
                    counts[env["TARGET_PREFIX"]] = counts.get(env["TARGET_PREFIX"], 0) + 1
    return counts


def request(case: Case, target: str, api: dict[str, str]) -> dict[str, Any]:
    wave = {"name": "all", "tenantIds": list(case.tenants)}
    detail: dict[str, Any] = {"releaseId": case.release_id, "chartVersion": target, "waves": [wave]}
    if case.images:
        detail["images"] = [api]
    return {"source": "saas.release", "detail-type": "Fleet Release Requested", "detail": detail}


def run_case(stack: Any, case: Case, api: dict[str, str]) -> Outcome:
    before = {t: stack.tenant(t) for t in FLEET}
    running = {before[t].get("chartVersion") for t in case.tenants} | {parameter(stack)["chartVersion"]}
    target = next(v for v in VERSIONS if v not in running)
    outcome = Outcome(before=before, target=target, parameter_before=parameter(stack))
    injector = arm(stack)
    match = f'"{case.release_id}"'
    rules = [Rule(target=case.target, kind=case.kind, function=case.function, match=match, after=case.after)]
    for rule in [*rules, *case.extra]:
        if rule.target.startswith("git."):  # a git fault matches the paths written: the wave's tenant's
            rule.match = case.tenants[0]
        else:
            rule.match = match
        injector.add(rule)
    rules += case.extra
    if case.expect == "halted":
        stack.flux.fail_next(case.tenants[0], "UpgradeFailed", FLUX_FAILED)
    stack.put_events([request(case, target, api)])
    stack.wait_idle(300)
    outcome.unfired = [r for r in rules if r.times > 0]
    injector.clear()
    outcome.running = running_executions(stack)
    outcome.records = {t: stack.tenant(t) for t in FLEET}
    outcome.release = release_record(stack, case.release_id)
    outcome.parameter = parameter(stack)
    outcome.findings = Inspector(stack).check(list(FLEET))
    outcome.events = [
        {"type": e["detail-type"], **e["detail"]}
        for e in stack.status_events()
        if e["detail"].get("releaseId") == case.release_id
    ]
    outcome.copies = copy_builds(stack, case.release_id) if case.images else {}
    return outcome


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    from onboarding_local.stack import LocalStack

    tmp = Path(tmp_path_factory.mktemp("faults-release"))
    parameters = {"ReleasePollSeconds": "1", "ReconcileTimeoutSeconds": "60"}
    with LocalStack(tmp / "stack", parameters=parameters) as stack:
        stack.bootstrap_tenant_account(ACCOUNT, REMOTE)
        stack.put_events([
            signup_event("frel-pooled", "Release Pooled"),
            signup_event("frel-remote", "Release Remote", tier="advanced", deploymentModel="remote",
                         awsAccountId=ACCOUNT, region=REGION),
        ])  # fmt: skip
        stack.wait_idle(300)
        onboarded = {t: (stack.tenant(t) or {}) for t in FLEET}
        assert {t: r.get("status") for t, r in onboarded.items()} == dict.fromkeys(FLEET, "ACTIVE"), onboarded
        publish(stack, tmp)
        (image,) = seed_release(stack.release_registry, tmp / "images", "2.0.0", ("api",))
        api = {"name": "api", "sourceRepository": image.repository, "digest": image.digest}
        yield {case.id: run_case(stack, case, api) for case in CASES}


def of(outcome: Outcome, kind: str) -> list[dict[str, Any]]:
    return [e for e in outcome.events if e["type"] == kind]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_fault_in_a_release_ends_in_agreement_and_is_told_truly(results: dict[str, Outcome], case: Case) -> None:
    outcome = results[case.id]
    # the fault (and any further one) was injected where aimed; the release's execution ended
    assert outcome.unfired == [], f"never fired: {outcome.unfired}"
    assert outcome.running == []
    # every tenant's record and its HelmRelease agree (chart, release version, images), none is locked
    assert {t: f.all() for t, f in outcome.findings.items()} == {t: [] for t in FLEET}
    record = outcome.release
    assert record is not None
    chart = {t: r["chartVersion"] for t, r in outcome.records.items()}
    moved = {t: outcome.before[t]["chartVersion"] for t in FLEET}  # the tenants outside the release stay
    if case.expect == "completed":
        # a transient fault is retried: the release completes, every tenant on it, announced once as such
        assert record is not None and record["status"] == "COMPLETED"
        assert chart == {**moved, **dict.fromkeys(case.tenants, outcome.target)}
        assert outcome.parameter["chartVersion"] == outcome.target  # a tenant onboarding now starts on it
        (started,) = {e["chartVersion"] for e in of(outcome, "Fleet Release Started")}
        assert started == outcome.target
        assert {e["tenants"] for e in of(outcome, "Fleet Release Completed")} == {len(case.tenants)}
        assert of(outcome, "Fleet Release Halted") == []
        if case.images:  # the remote tenant runs its own copy, by digest, and its record says so
            remote = outcome.records[REMOTE]
            assert remote["releaseVersion"] == case.release_id and outcome.parameter["version"] == case.release_id
    else:
        # halted: every tenant back where it was, the parameter too, and the announcement says why
        assert record["status"] == "HALTED"
        assert chart == moved
        assert outcome.parameter == outcome.parameter_before
        assert of(outcome, "Fleet Release Completed") == []
        halted = of(outcome, "Fleet Release Halted")
        assert halted, "no Fleet Release Halted"
        if case.expect == "halted":  # Flux's verdict: the wave rolled back
            assert {(h["wave"], tuple(h["rolledBack"])) for h in halted} == {("all", tuple(sorted(case.tenants)))}
            assert [f["tenantId"] for f in halted[-1]["failed"]] == list(case.tenants)
            assert FLUX_FAILED in halted[-1]["failed"][0]["reason"]
        else:  # an error no retry fixed: what the release held was put back
            assert {(h["wave"], tuple(h["rolledBack"])) for h in halted} == {("(none)", tuple(sorted(case.tenants)))}
            assert halted[-1]["failed"][0]["tenantId"] == "(release)"
            assert "ValidationException" in halted[-1]["failed"][0]["reason"]
    if case.images and case.expect != "failed":  # exactly one copy build per remote tenant, tracked and judged
        assert outcome.copies == {REMOTE: 1}
