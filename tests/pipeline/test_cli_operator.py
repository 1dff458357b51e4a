"""The operator's side of `onboarding-local` (issue 14, the local tool): clean JSON under a burst, live progress, a
default output that says everything that matters, `serve` and `run` holding the work dir, a stale endpoint seen at
once, what `serve` prints (and that it works in a shell without AWS credentials), --version, defaults, tenant-id."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from onboarding.identity import derive_tenant_id
from onboarding_local import workdir as workdirs
from onboarding_local.cli import EXIT_UNMATCHED, main
from tests.conftest import signup_event
from tests.utils.operations import request
from tests.utils.served import BEFORE_SERVE, CLI, Served, cli_env

pytestmark = pytest.mark.pipeline
# the tests sharing a module fixture (one run, one serve) stay on one xdist worker, which makes the fixture once
ONE_RUN = pytest.mark.xdist_group("cli_operator_run")
# the tests of the one serve they share with test_cli and test_graph (tests/utils/served.py)
ONE_SERVE = pytest.mark.xdist_group("serve")
# signups put at once: their handlers run concurrently, and any concurrency showed the bug the test guards
BURST = 10


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# ------------------------------------------------------------------ clean JSON, progress, the default output


def test_run_json_stdout_is_one_json_document_under_a_burst_of_signups(tmp_path: Path) -> None:
    # Given BURST signups in one file, put on the bus at once: their handlers run concurrently and each prints (a
    # Powertools metrics line per invocation broke the document when this was found with 100; any burst does)
    burst = write(tmp_path / "burst.json", [signup_event(f"burst-{i:03d}", f"Burst {i:03d}") for i in range(BURST)])
    # When the CLI runs them with --json, in its own process (every write to fd 1 is seen)
    done = subprocess.run(
        [*CLI, "run", str(burst), "--workdir", str(tmp_path / "wd"), "--json"],
        capture_output=True, text=True, env=cli_env(), timeout=600, cwd=tmp_path,
    )  # fmt: skip
    # Then stdout is exactly one JSON document (json.loads refuses anything before or after it)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert set(report) == {"executions", "tenants", "events", "gitops"}
    assert len(report["tenants"]) == BURST and {t["status"] for t in report["tenants"]} == {"ACTIVE"}
    assert len(report["executions"]) == BURST
    assert (tmp_path / "wd" / "lambda.log").stat().st_size > 0  # the handlers wrote there


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of three files, with the default output (stdout not a terminal): a signup delivered twice; a typo in
    detail-type and an invalid signup; a resume of a tenant that is not suspended."""
    tmp = tmp_path_factory.mktemp("mixed")
    tenant_id = derive_tenant_id("op-mixed-1")
    typo = {**signup_event("op-mixed-2", "Mixed Two"), "detail-type": "Tenant Sigup Requested"}
    files = [
        write(tmp / "1-twice.json", [signup_event("op-mixed-1", "Mixed One")] * 2),
        write(tmp / "2-typo-and-invalid.json", [typo, signup_event("op-mixed-3", "Mixed Three", tier="gold")]),
        write(tmp / "3-resume.json", request("resume", tenant_id, "op-mixed-resume")),
    ]
    workdir = tmp / "wd"
    out, err = tmp / "out.txt", tmp / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        code = subprocess.run(
            [*CLI, "run", *map(str, files), "--workdir", str(workdir)],
            stdout=stdout, stderr=stderr, env=cli_env(), timeout=600, cwd=tmp,
        ).returncode  # fmt: skip
    return {
        "code": code, "out": out.read_text(), "err": err.read_text(), "files": files, "workdir": workdir,
        "tenant_id": tenant_id,
    }  # fmt: skip


@ONE_RUN
def test_without_a_terminal_progress_is_plain_lines_per_file_and_settled_execution(mixed_run: dict[str, Any]) -> None:
    lines = mixed_run["out"].splitlines()
    files = mixed_run["files"]
    assert f"[1/3] {files[0]}: 2 events" in lines
    assert f"[3/3] {files[2]}: 1 event" in lines
    settled = next(line for line in lines if line.startswith("[1/3] settled:"))
    assert "executions 1 succeeded, 0 failed, 0 running" in settled and "tenants ACTIVE 1" in settled
    # one line per settled execution, as it settles, before the file's summary
    (execution,) = [
        i for i, line in enumerate(lines) if re.fullmatch(rf"  {mixed_run['tenant_id']}  SUCCEEDED  \d+ ms", line)
    ]
    assert execution < lines.index(settled)
    assert "\x1b[" not in mixed_run["out"]  # no terminal control sequences in a file


@ONE_RUN
def test_the_default_output_names_rejections_duplicates_and_unmatched_events(mixed_run: dict[str, Any]) -> None:
    out, err = mixed_run["out"], mixed_run["err"]
    tenant_id = mixed_run["tenant_id"]
    # a rejected signup, with its reason
    assert re.search(r"Tenant Signup Rejected\s+op-mixed-3  rejected\n\s+tier: Input should be", out)
    # a rejected lifecycle request, with its reason
    assert re.search(
        rf"Tenant Operation Rejected\s+{tenant_id}  resume rejected\n\s+tenantId: tenant {tenant_id} is ACTIVE", out
    )
    # the second delivery of the same signup
    assert f"duplicate delivery: no new execution  {tenant_id}  (execution {tenant_id})" in out
    # the typo: a warning naming the file, the event and its detail-type, and a non-zero exit code
    assert mixed_run["code"] == EXIT_UNMATCHED  # (every other run of these tests, with no such event, exits 0)
    (warning,) = [line for line in err.splitlines() if line.startswith("warning:")]
    assert str(mixed_run["files"][1]) in warning and "event 0" in warning
    assert "'Tenant Sigup Requested'" in warning and "matched no rule" in warning


@ONE_RUN
def test_a_rejected_lifecycle_request_is_in_the_tenants_timeline(
    mixed_run: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    tenant_id = mixed_run["tenant_id"]
    assert main(["tenants", tenant_id, "--workdir", str(mixed_run["workdir"])]) == 0
    entries = [line.split(None, 4) for line in capsys.readouterr().out.splitlines() if line.startswith("    ")]
    assert [e[1:3] for e in entries] == [["onboard", "ONBOARDING"], ["onboard", "ACTIVE"], ["resume", "REJECTED"]]
    assert f"tenant {tenant_id} is ACTIVE; resume needs a tenant that is SUSPENDED" in entries[-1][4]


def test_on_a_terminal_run_shows_a_live_display(tmp_path: Path) -> None:
    signup = write(tmp_path / "live.json", [signup_event("op-live-1", "Live One"), signup_event("op-live-2", "Live 2")])
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, "run", str(signup), "--workdir", str(tmp_path / "wd")],
        stdout=follower, stderr=follower, env={**cli_env(), "COLUMNS": "120", "TERM": "xterm"}, cwd=tmp_path,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    screen = b"".join(chunks).decode("utf-8", errors="replace")
    assert proc.wait(timeout=60) == 0, screen[-3000:]
    assert "\x1b[" in screen  # drawn with terminal control sequences
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)  # the text drawn
    assert "live.json (2 events)" in screen  # the file being processed
    assert re.search(r"executions\s+running \d+\s+succeeded \d+\s+failed \d+", screen)
    assert re.search(r"executions\s+running 0\s+succeeded 2\s+failed 0", screen)  # its last frame
    assert re.search(r"tenants\s+ACTIVE 2", screen)
    assert "[1/1]" not in screen  # not the plain lines
    assert "tenants:" in screen and "gitops:" in screen  # then the timeline, as without a terminal


# ------------------------------------------------------------------ holding the work dir, stale files


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_from_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    stale = {"pid": dead_pid(), "command": "serve", "since": "2026-01-01T00:00:00+00:00"}
    write(tmp_path / workdirs.LOCK_FILE, stale)
    assert workdirs.holder(tmp_path) is None
    with workdirs.hold(tmp_path, "run") as taken_over:
        assert taken_over == stale
        assert workdirs.holder(tmp_path)["pid"] == os.getpid()  # type: ignore[index]
    assert not (tmp_path / workdirs.LOCK_FILE).exists()


def test_a_stale_endpoint_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    # Given an endpoint file left by a serve that was killed (no process holds the work dir)
    (tmp_path / workdirs.ENDPOINT_FILE).write_text("http://127.0.0.1:9", encoding="utf-8")
    write(tmp_path / workdirs.LOCK_FILE, {"pid": dead_pid(), "command": "serve", "since": "-"})
    for command in ("tenants", "releases"):
        # When the operator lists tenants or releases, in a process of its own
        done = subprocess.run(
            [*CLI, command, "--workdir", str(tmp_path)], capture_output=True, text=True, env=cli_env(), timeout=60
        )
        # Then one line says the file is stale, and the exit code is 1 (no traceback)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "is stale" in done.stderr and "Traceback" not in done.stderr


def test_a_serve_that_does_not_answer_is_one_line_and_exit_1(tmp_path: Path) -> None:
    from onboarding_local.gitserver import free_port

    (tmp_path / workdirs.ENDPOINT_FILE).write_text(f"http://127.0.0.1:{free_port()}", encoding="utf-8")
    with workdirs.hold(tmp_path, "serve"), pytest.raises(SystemExit, match="does not answer") as exited:
        main(["tenants", "--workdir", str(tmp_path)])
    assert "\n" not in str(exited.value.code)


# ------------------------------------------------------------------ serve


def printed_block(lines: list[str], title: str) -> list[str]:
    """The indented command lines under a printed title line."""
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


@ONE_SERVE
def test_serve_starts_its_gitops_repository_as_empty_as_its_tables(served: Served) -> None:
    # what its repository held when its banner was out, before any test talked to it
    assert served.initial["log"] == ["Seed GitOps repository"]  # the earlier run's commits are gone
    assert not any(derive_tenant_id(BEFORE_SERVE) in f for f in served.initial["files"])


@ONE_SERVE
def test_run_refuses_a_work_dir_a_live_serve_holds(served: Served, tmp_path: Path) -> None:
    signup = write(tmp_path / "1.json", signup_event("op-trample", "Trample"))
    repo = served.workdir / "git" / "gitops.git"
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "main"], capture_output=True, text=True).stdout
    with pytest.raises(SystemExit) as exited:
        main(["run", str(signup), "--workdir", str(served.workdir)])
    message = str(exited.value.code)
    assert "in use by `onboarding-local serve`" in message and f"pid {served.proc.pid}" in message
    assert subprocess.run(["git", "-C", str(repo), "rev-parse", "main"], capture_output=True, text=True).stdout == head
    assert (served.workdir / workdirs.ENDPOINT_FILE).exists()  # serve's files are untouched


@ONE_SERVE
def test_serve_prints_the_aws_cli_exports_and_its_try_command_works_without_credentials(
    served: Served,
) -> None:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed")
    lines = served.lines
    endpoint = next(line.split()[2] for line in lines if line.startswith("AWS endpoint"))
    (export,) = printed_block(lines, "for the AWS CLI")
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        assert f"{name}=" in export
    assert f"AWS_ENDPOINT_URL={endpoint}" in export
    put_events, list_executions = printed_block(lines, "try:")
    subscribe = printed_block(lines, "subscribe to the outcome events")
    # a shell with no AWS settings at all: no AWS variables, no config or credentials file
    none = served.tmp / "no-such-file"
    shell_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    shell_env |= {"AWS_CONFIG_FILE": str(none), "AWS_SHARED_CREDENTIALS_FILE": str(none)}

    def sh(*commands: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", "set -e\n" + "\n".join(commands)], env=shell_env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    assert sh(put_events).returncode != 0  # without the exports the AWS CLI cannot call (no region, no key)
    done = sh(export, *subscribe[:3], put_events)
    assert done.returncode == 0, done.stderr
    assert '"FailedEntryCount": 0' in done.stdout
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "Tenant Onboarded" not in {b["detail-type"] for b in bodies}:
        received = sh(export, subscribe[3])
        assert received.returncode == 0, received.stderr
        decoder = json.JSONDecoder()
        text = received.stdout.strip()
        while text and text != "None":
            body, end = decoder.raw_decode(text)
            bodies.append(body)
            text = text[end:].strip()
    detail_types = [b["detail-type"] for b in bodies if b["detail"].get("tenantId") == derive_tenant_id("s-1")]
    assert "Tenant Onboarding Started" in detail_types and "Tenant Onboarded" in detail_types
    assert {b["source"] for b in bodies} == {"saas.onboarding"}
    executions = sh(export, list_executions)
    assert executions.returncode == 0 and derive_tenant_id("s-1") in executions.stdout


@ONE_SERVE
def test_tenants_reads_the_live_serve(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenants", "--workdir", str(served.workdir), "--json"]) == 0
    tenants = json.loads(capsys.readouterr().out)
    assert derive_tenant_id(BEFORE_SERVE) not in {t["tenantId"] for t in tenants}  # not the earlier run's


# ------------------------------------------------------------------ smaller things


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"onboarding-local {version('tenant-onboarding')}"


@pytest.mark.parametrize("command", ["run", "serve", "tenants", "releases"])
def test_help_shows_the_defaults(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: .local-stack)" in text
    if command == "run":
        assert "(default: 300.0)" in text


def test_tenant_id_prints_the_id_the_pipeline_derives(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant-id", "acme-signup-0001"]) == 0
    assert capsys.readouterr().out == derive_tenant_id("acme-signup-0001") + "\n"
