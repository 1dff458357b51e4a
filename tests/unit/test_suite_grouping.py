"""`make test` runs `pytest -n 2 --dist loadgroup`: the tests of a group (those sharing a module fixture: one local
stack, one demo run, one fault-suite burst) must run on one worker, or that fixture is built on both. pytest-xdist
names a group by suffixing the test's node id; pytest 9.2 changed how node ids are kept and the suffix, and so the
grouping, silently vanished (requirements-dev.txt pins pytest for that)."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("grouping_check")
def test_a_grouped_test_is_scheduled_as_its_group(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not under --dist loadgroup")
    assert request.node.nodeid.endswith("@grouping_check")
