"""Shared fixtures: signup envelopes, and the embedded local stack for pipeline tests."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.utils.scoped_stack import ScopedStack, scoped
from tests.utils.served import Served, serve

REPO = Path(__file__).resolve().parents[1]


def signup_event(signup_id: str, tenant_name: str, tier: str = "basic", **extra: Any) -> dict[str, Any]:
    """A ``Tenant Signup Requested`` envelope as EventBridge delivers it (the format of events/)."""
    detail = {"signupId": signup_id, "tenantName": tenant_name, "adminEmail": "admin@example.com", "tier": tier}
    detail.update(extra)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Tenant Signup Requested",
        "source": "saas.signup",
        "account": "123456789012",
        "time": "2026-11-24T09:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def sample_event(name: str) -> dict[str, Any]:
    return json.loads((REPO / "events" / name).read_text(encoding="utf-8"))


def serve_banner(proc: subprocess.Popen[str], seconds: float) -> list[str]:
    """The lines `onboarding-local serve` prints up to the one that says how to stop it ("Ctrl-C"). Fails, never
    hangs, when serve exits first or prints nothing more for ``seconds`` (a read on its stdout would block)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stdout:
            lines.put(line)
            if "Ctrl-C" in line:
                return
        lines.put("")  # end of output: serve exited

    threading.Thread(target=read, daemon=True).start()
    banner: list[str] = []
    while True:
        try:
            line = lines.get(timeout=seconds)
        except queue.Empty:
            pytest.fail(f"serve printed nothing more for {seconds:.0f}s after:\n{''.join(banner)}")
        if not line:
            pytest.fail(f"serve exited ({proc.wait()}) before it was up:\n{''.join(banner)}")
        banner.append(line)
        if "Ctrl-C" in line:
            return banner


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Any]:
    from onboarding_local.stack import LocalStack

    with LocalStack(tmp_path / "stack") as running:
        yield running


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local stack for a whole test module (with its own default parameters). Only one stack runs in a
    process at a time, so a module that uses this keeps its tests that start their own stack elsewhere, and marks
    itself ``xdist_group`` so that its tests run on one worker."""
    from onboarding_local.stack import LocalStack

    with LocalStack(tmp_path_factory.mktemp("module-stack") / "stack") as running:
        yield running


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The one `onboarding-local serve` the tests marked ``xdist_group("serve")`` share (tests/utils/served.py)."""
    yield from serve(tmp_path_factory.mktemp("served"), serve_banner)


@pytest.fixture
def scoped_stack(module_stack: Any) -> Iterator[ScopedStack]:
    """The module's stack as this test sees it: what happened since the test began (tests/utils/scoped_stack.py).
    A module opts in by defining its ``stack`` fixture as this one."""
    with scoped(module_stack) as view:
        yield view


# The longest tests first, so that `pytest -n 3 --dist loadgroup` (make test) never starts one of them while the
# other worker is about to run out of work: sam build (pip downloads), sam validate, then every test that runs
# the local stack (pipeline, then integration), then the rest. pytest-xdist hands out tests in this order.
_FIRST = ("tests/template/test_template.py::test_sam_build", "tests/template/test_template.py::test_sam_validate")
_FOLDERS = ("tests/pipeline/", "tests/integration/", "tests/chart/", "tests/template/", "tests/unit/")


def _rank(item: pytest.Item) -> tuple[int, int]:
    node = item.nodeid
    first = next((i for i, prefix in enumerate(_FIRST) if node.startswith(prefix)), None)
    if first is not None:
        return (0, first)
    folder = next((i for i, prefix in enumerate(_FOLDERS) if node.startswith(prefix)), len(_FOLDERS))
    return (1 + folder, 0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: collection order within a rank
