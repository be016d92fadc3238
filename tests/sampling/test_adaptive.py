"""Adaptive rates: converge on the target from synthetic traffic, stay within their bounds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.sampling.adaptive import AdaptiveRates, AdaptiveSettings, Key

INTERVAL_S = 30.0
TRUE_RATES: dict[Key, float] = {  # real requests per second
    ("shop", "GET /menu"): 500.0,
    ("shop", "POST /order"): 20.0,
    ("shop", "GET /admin"): 0.2,
    ("pay", "charge"): 5.0,
}


def _run(rates: AdaptiveRates, true_rates: dict[Key, float], intervals: int, seed: int) -> None:
    """SDKs that sample each request with the probability served one interval earlier (they
    poll), and report what they kept, each span weighted 1/p as its tracestate says."""
    random = np.random.default_rng(seed)
    for _ in range(intervals):
        served = {key: rates.probability(*key) for key in true_rates}
        weighted = {}
        for key, rate in true_rates.items():
            requests = random.poisson(rate * INTERVAL_S)
            kept = random.binomial(requests, served[key])
            if kept:
                weighted[key] = kept / served[key]
        rates.observe(weighted, INTERVAL_S)


def test_converges_to_the_target_rate_per_operation() -> None:
    rates = AdaptiveRates(AdaptiveSettings(target_tps=1.0))
    _run(rates, TRUE_RATES, intervals=40, seed=7)
    for key, rate in TRUE_RATES.items():
        kept_per_second = rate * rates.probability(*key)
        assert kept_per_second == pytest.approx(min(1.0, rate), rel=0.25), key
    assert rates.probability("shop", "GET /admin") == 1.0  # quieter than the target: keep all


def test_follows_a_change_in_traffic_smoothly() -> None:
    rates = AdaptiveRates(AdaptiveSettings(target_tps=2.0, smoothing=0.3))
    key = ("shop", "GET /menu")
    _run(rates, {key: 100.0}, intervals=30, seed=1)
    assert rates.probability(*key) == pytest.approx(0.02, rel=0.25)
    history = []
    random_seed = 2
    for _ in range(30):  # traffic drops tenfold
        _run(rates, {key: 10.0}, intervals=1, seed=random_seed)
        random_seed += 1
        history.append(rates.probability(*key))
    assert history[-1] == pytest.approx(0.2, rel=0.25)
    # Smooth: no single recomputation jumps more than the smoothing lets it.
    steps = [b / a for a, b in zip([0.02, *history], history, strict=False)]
    assert max(steps) < 1.6, steps
    assert all(b >= a * 0.9 for a, b in itertools.pairwise(history))  # no swings


def test_an_operation_with_no_traffic_is_forgotten_and_memory_is_bounded() -> None:
    settings = AdaptiveSettings(max_operations=3, forget_after=5)
    rates = AdaptiveRates(settings)
    rates.observe({("s", f"op{i}"): 100.0 for i in range(5)}, INTERVAL_S)
    assert rates.overflow == 2
    assert rates.probability("s", "op4") == settings.default_probability
    for _ in range(5):
        rates.observe({("s", "op0"): 100.0}, INTERVAL_S)
    strategy = rates.strategy("s")
    assert strategy.per_operation is not None
    assert [op.operation for op in strategy.per_operation.operations] == ["op0"]


def test_serves_per_operation_strategies_with_a_lower_bound() -> None:
    rates = AdaptiveRates(AdaptiveSettings(target_tps=1.0, default_probability=0.5))
    rates.observe({("shop", "GET /menu"): 3000.0}, INTERVAL_S)
    strategy = rates.strategy("shop")
    assert strategy.per_operation is not None
    assert strategy.per_operation.default_probability == 0.5
    assert strategy.per_operation.lower_bound_tps == pytest.approx(1 / 60)
    assert strategy.per_operation.probability("GET /menu") == pytest.approx(0.01)
    unknown = rates.strategy("never-seen")
    assert unknown.per_operation is not None
    assert unknown.per_operation.operations == ()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_tps": 0},
        {"min_probability": 0},
        {"min_probability": 0.5, "max_probability": 0.1},
        {"smoothing": 0},
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|need 0 <"):
        AdaptiveSettings(**kwargs)  # type: ignore[arg-type]


observations = st.lists(
    st.tuples(
        st.dictionaries(
            st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["x", "y", "z"])),
            st.floats(0, 1e12, allow_nan=False),
            max_size=6,
        ),
        st.floats(1e-3, 1e4),
    ),
    max_size=20,
)


@given(
    observations,
    st.floats(1e-6, 1.0),
    st.floats(1e-6, 1.0),
    st.floats(1e-3, 1e6),
    st.floats(0.01, 1.0),
)
def test_probabilities_stay_within_bounds(
    seen: list[tuple[dict[Key, float], float]],
    a: float,
    b: float,
    target: float,
    smoothing: float,
) -> None:
    low, high = sorted((a, b))
    settings = AdaptiveSettings(
        target_tps=target, min_probability=low, max_probability=high, smoothing=smoothing
    )
    rates = AdaptiveRates(settings)
    for weighted, seconds in seen:
        rates.observe(weighted, seconds)
        for service in ("a", "b"):
            per_operation = rates.strategy(service).per_operation
            assert per_operation is not None
            for op in per_operation.operations:
                assert low <= op.rate <= high
