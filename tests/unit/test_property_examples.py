"""The number of examples property tests draw, and how make runtime-tests lowers it."""

from __future__ import annotations

import pytest

from tests.support.properties import FEWEST, SCALE_VARIABLE, examples


def test_without_a_scale_each_property_draws_its_own_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCALE_VARIABLE, raising=False)
    assert examples(300) == 300


def test_a_scale_draws_that_share_of_the_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCALE_VARIABLE, "0.25")
    assert examples(300) == 75


def test_a_scale_never_draws_fewer_than_the_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCALE_VARIABLE, "0.01")
    assert examples(300) == FEWEST


@pytest.mark.parametrize("text", ["0", "2", "-1", "quarter"])
def test_a_scale_outside_zero_to_one_is_refused_with_the_variable(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(SCALE_VARIABLE, text)
    with pytest.raises(ValueError, match=SCALE_VARIABLE):
        examples(300)
