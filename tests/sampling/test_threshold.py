"""The ``ot=th:`` threshold: the OpenTelemetry specification's examples, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.sampling import threshold


@pytest.mark.parametrize(
    ("probability", "th"),
    [(1.0, "0"), (0.5, "8"), (0.25, "c"), (0.75, "4"), (0.1, "e666"), (1 / 3, "aaab")],
)
def test_spec_examples(probability: float, th: str) -> None:
    assert threshold.encode(threshold.threshold(probability)) == th


def test_decode_pads_to_56_bits_and_rejects_garbage() -> None:
    assert threshold.decode("8") == 1 << 55
    assert threshold.decode("0") == 0
    for bad in ("", "G", "8" * 15, "Ab"):
        assert threshold.decode(bad) is None


def test_ot_value_round_trips_and_keeps_other_sub_keys() -> None:
    ot = threshold.with_threshold("rv:0123456789abcd", threshold.threshold(0.5))
    assert ot == "th:8;rv:0123456789abcd"
    assert threshold.from_ot_value(ot) == 1 << 55
    assert threshold.randomness(0, ot) == 0x0123456789ABCD
    assert threshold.without_threshold(ot) == "rv:0123456789abcd"


@given(st.floats(min_value=1e-12, max_value=1.0))
def test_rounding_keeps_the_probability_close_and_never_zero(p: float) -> None:
    t = threshold.threshold(p)
    assert 0 <= t < threshold.MAX_THRESHOLD
    applied = threshold.probability(t)
    assert applied > 0
    assert abs(applied - p) / p < 1e-3 or abs(applied - p) <= 2**-56
    assert threshold.decode(threshold.encode(t)) == t


@given(st.integers(0, 2**128 - 1), st.floats(0.01, 1), st.floats(0.01, 1))
def test_decisions_are_consistent_across_probabilities(trace_id: int, a: float, b: float) -> None:
    """A trace kept at the lower probability is kept at the higher one too."""
    low, high = sorted((a, b))
    r = threshold.randomness(trace_id)
    if r >= threshold.threshold(low):
        assert r >= threshold.threshold(high)
