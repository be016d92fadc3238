"""A service's head-sampling strategy: the values of Jaeger's ``SamplingStrategyResponse``.

One service gets one ``Strategy``: a service-wide probability *or* rate limit, and optionally
per-operation probabilities with a default and a lower-bound rate (``PerOperation``). SDKs
that know per-operation strategies (every OpenTelemetry Jaeger remote sampler) prefer
``per_operation`` when present; the others read the service-wide field. ``wire.py`` turns
these into Jaeger's JSON and protobuf shapes and back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


def check_probability(value: object, where: str) -> float:
    """``value`` as a float in [0, 1], or ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {value!r} is not a number")
    number = float(value)
    if not (0.0 <= number <= 1.0):  # also rejects NaN
        raise ValueError(f"{where}: {value!r} is not a probability between 0 and 1")
    return number


def check_rate(value: object, where: str) -> float:
    """``value`` as a finite float >= 0 (traces per second), or ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {value!r} is not a number")
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{where}: {value!r} is not a rate of traces per second (>= 0)")
    return number


@dataclass(frozen=True, slots=True)
class Probabilistic:
    """Keep each trace with probability ``rate``."""

    rate: float


@dataclass(frozen=True, slots=True)
class RateLimiting:
    """Keep at most ``max_traces_per_second`` traces per second (per SDK instance).

    An integer: Jaeger's protobuf field is an int32.
    """

    max_traces_per_second: int


@dataclass(frozen=True, slots=True)
class OperationProbability:
    """The probability for one operation (span name) of a service."""

    operation: str
    rate: float


@dataclass(frozen=True, slots=True)
class PerOperation:
    """Per-operation probabilities; operations not listed use ``default_probability``.

    ``lower_bound_tps``: every operation keeps at least this many traces per second (per SDK
    instance) whatever its probability, so quiet endpoints are never sampled to nothing.
    ``upper_bound_tps`` is in Jaeger's API but almost no SDK reads it; 0 means none.
    """

    default_probability: float
    lower_bound_tps: float = 0.0
    upper_bound_tps: float = 0.0
    operations: tuple[OperationProbability, ...] = ()

    def probability(self, operation: str) -> float:
        for entry in self.operations:
            if entry.operation == operation:
                return entry.rate
        return self.default_probability


@dataclass(frozen=True, slots=True)
class Strategy:
    """What one service is told: Jaeger's ``SamplingStrategyResponse``.

    Jaeger treats it as a union that may carry ``per_operation`` beside one of the other
    two; ``strategy_type`` is its legacy enum, RATE_LIMITING only for a rate limit.
    """

    probabilistic: Probabilistic | None = None
    rate_limiting: RateLimiting | None = None
    per_operation: PerOperation | None = None

    @property
    def strategy_type(self) -> str:
        if self.rate_limiting is not None and self.probabilistic is None:
            return "RATE_LIMITING"
        return "PROBABILISTIC"


def probabilistic(rate: float) -> Strategy:
    return Strategy(probabilistic=Probabilistic(rate))


class StrategyProvider(Protocol):
    """Where the sampling APIs get a service's strategy: a file, adaptive rates, or one
    fixed strategy for every service."""

    def strategy(self, service: str) -> Strategy: ...


@dataclass(frozen=True, slots=True)
class FixedStrategy:
    """The same strategy for every service (no file, not adaptive)."""

    default: Strategy

    def strategy(self, service: str) -> Strategy:
        return self.default
