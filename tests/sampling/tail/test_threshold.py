"""The private ``ot=th:`` arithmetic, against the OpenTelemetry probability-sampling spec's
examples (th:8 is 1/2, th:c is 1/4, th:0 is 1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.sampling import threshold as th


@pytest.mark.parametrize(
    ("tracestate", "probability"),
    [
        ("", 1.0),
        ("ot=th:0", 1.0),
        ("ot=th:8", 0.5),
        ("ot=th:c", 0.25),
        ("vendor=x,ot=rv:abcdef12345678;th:c", 0.25),
        ("ot=th:zz", 1.0),  # invalid: as if absent
        ("ot=th:123456789abcdef", 1.0),  # 15 digits: invalid
    ],
)
def test_reads_the_threshold(tracestate: str, probability: float) -> None:
    assert th.probability(th.of_tracestate(tracestate)) == probability


def test_a_tail_rate_multiplies_the_head_probability() -> None:
    assert th.encode(th.times(0, 0.5)) == "8"
    assert th.encode(th.times(th.of_tracestate("ot=th:8"), 0.5)) == "c"
    assert th.encode(th.times(0, 1.0)) == "0"


def test_rewrites_only_the_threshold_and_moves_ot_first() -> None:
    updated = th.tracestate_with_threshold(
        "vendor=x, ot=rv:abcdef12345678;th:8", th.times(th.of_tracestate("ot=th:8"), 0.5)
    )
    assert updated == "ot=th:c;rv:abcdef12345678,vendor=x"
    assert th.tracestate_with_threshold("", th.times(0, 0.1)) == "ot=th:e6666666666666"


@given(st.integers(0, (1 << 56) - 1), st.floats(0.001, 1.0))
def test_times_is_the_product(t: int, q: float) -> None:
    after = th.probability(th.times(t, q))
    assert after == pytest.approx(th.probability(t) * q, rel=1e-9, abs=2.0**-56)
    assert th.of_tracestate("ot=th:" + th.encode(th.times(t, q))) == th.times(t, q)
