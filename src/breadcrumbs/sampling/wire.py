"""``Strategy`` in Jaeger's two wire shapes: the JSON of ``GET /sampling?service=S`` and the
``jaeger.api_v2.SamplingStrategyResponse`` protobuf of ``SamplingManager/GetSamplingStrategy``.

The JSON is what Jaeger's own endpoint writes (protobuf JSON with defaults emitted, so
``"strategyType": "PROBABILISTIC"`` is always there, and absent strategies left out):
probabilistic ``{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5}}``,
rate limiting ``{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":5}}``,
per operation adds ``"operationSampling": {"defaultSamplingProbability", "defaultLowerBound
TracesPerSecond", "perOperationStrategies": [{"operation", "probabilisticSampling"}],
"defaultUpperBoundTracesPerSecond"}``. ``from_json`` reads that shape back, and also Jaeger's
older one (``strategyType`` as a number, zero fields left out), for the SDK's remote sampler.
"""

from __future__ import annotations

from typing import Any

from breadcrumbs.sampling.proto.jaeger.api_v2 import sampling_pb2
from breadcrumbs.sampling.strategy import (
    OperationProbability,
    PerOperation,
    Probabilistic,
    RateLimiting,
    Strategy,
    check_probability,
    check_rate,
)

_TYPES = ("PROBABILISTIC", "RATE_LIMITING")


def to_json(strategy: Strategy) -> dict[str, Any]:
    """Jaeger's JSON response, keys in Jaeger's order."""
    out: dict[str, Any] = {"strategyType": strategy.strategy_type}
    if strategy.probabilistic is not None:
        out["probabilisticSampling"] = {"samplingRate": strategy.probabilistic.rate}
    if strategy.rate_limiting is not None:
        out["rateLimitingSampling"] = {
            "maxTracesPerSecond": strategy.rate_limiting.max_traces_per_second
        }
    if strategy.per_operation is not None:
        ops = strategy.per_operation
        out["operationSampling"] = {
            "defaultSamplingProbability": ops.default_probability,
            "defaultLowerBoundTracesPerSecond": ops.lower_bound_tps,
            "perOperationStrategies": [
                {"operation": op.operation, "probabilisticSampling": {"samplingRate": op.rate}}
                for op in ops.operations
            ],
            "defaultUpperBoundTracesPerSecond": ops.upper_bound_tps,
        }
    return out


def to_proto(strategy: Strategy) -> sampling_pb2.SamplingStrategyResponse:
    """Jaeger's ``SamplingStrategyResponse`` message."""
    response = sampling_pb2.SamplingStrategyResponse(strategyType=strategy.strategy_type)
    # SetInParent: a zero rate must still mark its strategy present.
    if strategy.probabilistic is not None:
        response.probabilisticSampling.SetInParent()
        response.probabilisticSampling.samplingRate = strategy.probabilistic.rate
    if strategy.rate_limiting is not None:
        response.rateLimitingSampling.SetInParent()
        response.rateLimitingSampling.maxTracesPerSecond = (
            strategy.rate_limiting.max_traces_per_second
        )
    if strategy.per_operation is not None:
        ops = strategy.per_operation
        response.operationSampling.SetInParent()
        response.operationSampling.defaultSamplingProbability = ops.default_probability
        response.operationSampling.defaultLowerBoundTracesPerSecond = ops.lower_bound_tps
        response.operationSampling.defaultUpperBoundTracesPerSecond = ops.upper_bound_tps
        for op in ops.operations:
            entry = response.operationSampling.perOperationStrategies.add(operation=op.operation)
            entry.probabilisticSampling.SetInParent()
            entry.probabilisticSampling.samplingRate = op.rate
    return response


def from_json(data: Any) -> Strategy:
    """A ``Strategy`` from Jaeger's JSON response; ValueError when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("a sampling strategy is a JSON object")
    kind = data.get("strategyType", 0)
    if isinstance(kind, int) and not isinstance(kind, bool) and 0 <= kind < len(_TYPES):
        kind = _TYPES[kind]
    if kind not in _TYPES:
        raise ValueError(f"strategyType {kind!r} is not PROBABILISTIC or RATE_LIMITING")
    probabilistic = rate_limiting = None
    per_operation = None
    if (found := _object(data, "probabilisticSampling")) is not None:
        rate = check_probability(found.get("samplingRate", 0), "samplingRate")
        probabilistic = Probabilistic(rate)
    if (found := _object(data, "rateLimitingSampling")) is not None:
        tps = check_rate(found.get("maxTracesPerSecond", 0), "maxTracesPerSecond")
        rate_limiting = RateLimiting(int(tps))
    if (found := _object(data, "operationSampling")) is not None:
        per_operation = _per_operation(found)
    if probabilistic is None and rate_limiting is None and per_operation is None:
        raise ValueError("the sampling strategy names no strategy")
    return Strategy(probabilistic, rate_limiting, per_operation)


def _object(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{key} is not a JSON object")
    return value


def _per_operation(data: dict[str, Any]) -> PerOperation:
    operations = []
    for index, entry in enumerate(data.get("perOperationStrategies") or []):
        where = f"perOperationStrategies[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("operation"), str):
            raise ValueError(f"{where} has no operation name")
        sampling = entry.get("probabilisticSampling") or {}
        if not isinstance(sampling, dict):
            raise ValueError(f"{where}.probabilisticSampling is not a JSON object")
        rate = check_probability(sampling.get("samplingRate", 0), f"{where} samplingRate")
        operations.append(OperationProbability(entry["operation"], rate))
    return PerOperation(
        default_probability=check_probability(
            data.get("defaultSamplingProbability", 0), "defaultSamplingProbability"
        ),
        lower_bound_tps=check_rate(
            data.get("defaultLowerBoundTracesPerSecond", 0), "defaultLowerBoundTracesPerSecond"
        ),
        upper_bound_tps=check_rate(
            data.get("defaultUpperBoundTracesPerSecond", 0), "defaultUpperBoundTracesPerSecond"
        ),
        operations=tuple(operations),
    )
