"""The local stack's API-server check (onboarding_local.kube.validation_errors) keeps its answer per object: an
object checked again gets the same answer, a changed object is checked anew, and past its limit the least recently
used answers go first."""

from __future__ import annotations

import copy
import datetime
from collections import OrderedDict
from typing import Any

import pytest

from onboarding_local import kube


def namespace(name: str, **labels: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_an_object_checked_again_gets_the_same_answer_and_a_changed_one_is_checked_anew() -> None:
    # Given an object checked once, and found valid
    valid = namespace("t-acme-0123456789", tier="basic")
    assert kube.validation_errors(valid) == []
    # When an equal object is checked, then the same answer; when the object changes, it is checked anew
    assert kube.validation_errors(copy.deepcopy(valid)) == []
    valid["metadata"]["name"] = "Not_A_Label"  # type: ignore[index]
    (error,) = kube.validation_errors(valid)
    assert error.startswith(".metadata.name: 'Not_A_Label' is not a DNS-1123 label")
    answer = kube.validation_errors(valid)
    answer.append("a caller's own note")  # what a caller does with its answer is its own
    assert kube.validation_errors(valid) == [error]


def test_values_that_print_alike_in_json_are_told_apart() -> None:
    # Given objects whose JSON texts would be alike: a label as text, as a number, a date
    as_text = namespace("t-acme-0123456789", release="1")
    as_number = namespace("t-acme-0123456789", release=1)
    as_date = namespace("t-acme-0123456789", created=datetime.date(2026, 11, 28))
    # Then each gets its own answer, whatever was checked before it
    assert kube.validation_errors(as_text) == []
    assert ".metadata.labels.release: 1 is not a valid label value" in kube.validation_errors(as_number)
    assert kube.validation_errors(as_date) != []
    assert kube.validation_errors(as_text) == []


def test_past_the_limit_the_least_recently_used_answers_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a cache of three answers, and a check that counts how often the real check runs
    monkeypatch.setattr(kube, "_CHECKED", OrderedDict())
    monkeypatch.setattr(kube, "_CHECKED_LIMIT", 3)
    checked: list[str] = []
    real = kube._validation_errors

    def counted(obj: Any) -> list[str]:
        checked.append(obj["metadata"]["name"])
        return real(obj)

    monkeypatch.setattr(kube, "_validation_errors", counted)
    a, b, c, d = (namespace(f"t-{n}-0123456789") for n in "abcd")
    for obj in (a, b, c):
        kube.validation_errors(obj)
    kube.validation_errors(a)  # a used again: b is now the least recently used

    # When a fourth object is checked
    kube.validation_errors(d)

    # Then b's answer went, a's and c's stayed: only b is checked again
    assert len(kube._CHECKED) == 3
    checked.clear()
    for obj in (a, c, d, b):
        assert kube.validation_errors(obj) == []
    assert checked == ["t-b-0123456789"]
