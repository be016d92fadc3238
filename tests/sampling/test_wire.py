"""Jaeger's JSON and protobuf shapes of a strategy, checked against Jaeger's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.sampling import wire
from breadcrumbs.sampling.proto.jaeger.api_v2 import sampling_pb2
from breadcrumbs.sampling.strategy import (
    OperationProbability,
    PerOperation,
    Probabilistic,
    RateLimiting,
    Strategy,
)

GOLDEN = Path(__file__).parent / "golden"
RESPONSES: dict[str, Any] = orjson.loads((GOLDEN / "responses.json").read_bytes())

STRATEGIES = {
    "probabilistic": Strategy(probabilistic=Probabilistic(0.42)),
    "rateLimiting": Strategy(rate_limiting=RateLimiting(42)),
    "operationSampling": Strategy(
        per_operation=PerOperation(
            0.42,
            lower_bound_tps=2,
            upper_bound_tps=11.2,
            operations=(OperationProbability("foo", 0.42), OperationProbability("bar", 0.42)),
        )
    ),
}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_json_is_jaegers_shape_key_for_key(name: str) -> None:
    produced = wire.to_json(STRATEGIES[name])
    assert produced == RESPONSES[name]
    assert list(produced) == list(RESPONSES[name])  # Jaeger's key order too


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_protobuf_carries_the_same_strategy(name: str) -> None:
    message = wire.to_proto(STRATEGIES[name])
    parsed = sampling_pb2.SamplingStrategyResponse.FromString(message.SerializeToString())
    as_json = MessageToDict(parsed, always_print_fields_with_no_presence=True)
    assert wire.from_json(as_json) == STRATEGIES[name]


def test_a_zero_probability_is_still_a_present_strategy() -> None:
    message = wire.to_proto(Strategy(probabilistic=Probabilistic(0.0)))
    assert message.HasField("probabilisticSampling")
    assert not message.HasField("operationSampling")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_json_reads_back(name: str) -> None:
    assert wire.from_json(RESPONSES[name]) == STRATEGIES[name]


def test_reads_jaegers_older_shape_with_a_numeric_type() -> None:
    older = orjson.loads((GOLDEN / "response_service_no_per_operation_ServiceB.json").read_bytes())
    strategy = wire.from_json(older)
    assert strategy.strategy_type == "RATE_LIMITING"
    assert strategy.rate_limiting == RateLimiting(3)
    assert strategy.per_operation is not None
    assert strategy.per_operation.probability("/health") == 0.1
    assert strategy.per_operation.probability("/other") == 0.2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a sampling strategy is a JSON object"),
        ({"strategyType": "ALWAYS"}, "strategyType 'ALWAYS'"),
        ({"strategyType": 0}, "names no strategy"),
        ({"probabilisticSampling": {"samplingRate": 1.5}}, "1.5 is not a probability"),
        ({"probabilisticSampling": "half"}, "probabilisticSampling is not a JSON object"),
        ({"rateLimitingSampling": {"maxTracesPerSecond": -1}}, "-1 is not a rate"),
        (
            {"operationSampling": {"perOperationStrategies": [{"operation": 3}]}},
            "perOperationStrategies[0] has no operation name",
        ),
    ],
)
def test_malformed_json_is_a_clear_error(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        wire.from_json(data)


probabilities = st.floats(0, 1)
rates = st.floats(0, 1e6)
strategies = st.builds(
    Strategy,
    st.none() | st.builds(Probabilistic, probabilities),
    st.none() | st.builds(RateLimiting, st.integers(0, 2**31 - 1)),
    st.none()
    | st.builds(
        PerOperation,
        probabilities,
        rates,
        rates,
        st.lists(st.builds(OperationProbability, st.text(min_size=1), probabilities)).map(tuple),
    ),
).filter(lambda s: s.probabilistic or s.rate_limiting or s.per_operation)


@given(strategies)
def test_every_strategy_round_trips_through_json_and_protobuf(strategy: Strategy) -> None:
    assert wire.from_json(orjson.loads(orjson.dumps(wire.to_json(strategy)))) == strategy
    message = sampling_pb2.SamplingStrategyResponse.FromString(
        wire.to_proto(strategy).SerializeToString()
    )
    assert wire.from_json(MessageToDict(message)) == strategy
