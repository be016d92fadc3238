"""Adaptive head sampling (``--sampling-adaptive``): per service and operation, the probability
that keeps about ``target_tps`` traces per second, recomputed from the observed throughput.

Every interval the server hands ``observe`` the root spans it received per (service,
operation), each weighted by its adjusted count (1/p from its ``ot=th:`` tracestate), so the
sum estimates the *real* number of requests, whatever probability each SDK instance applied
then (SDKs poll at their own pace, so several probabilities are in flight at once). From it:

- the real request rate is smoothed by an exponentially weighted moving average (``smoothing``
  is the newest interval's weight), so one burst or one quiet interval moves the rates only
  part of the way and noise from small samples is damped;
- the probability is ``target_tps / rate``, bounded to [``min_probability``,
  ``max_probability``]; an operation with no traffic decays towards ``max_probability``.

Operations never observed get ``default_probability``; each is also guaranteed
``lower_bound_tps`` per SDK instance by Jaeger's lower bound, so a new or rare endpoint is
never sampled to nothing. Memory is bounded by ``max_operations``: further ones keep the
default (counted in ``overflow``), and an operation quiet for ``forget_after`` intervals is
forgotten. State lives in memory: a restart begins again from the default.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from breadcrumbs.sampling.strategy import OperationProbability, PerOperation, Strategy

Key = tuple[str, str]
"""(service, operation)."""


@dataclass(frozen=True, slots=True)
class AdaptiveSettings:
    target_tps: float = 1.0
    min_probability: float = 1e-5
    max_probability: float = 1.0
    default_probability: float = 1.0
    lower_bound_tps: float = 1 / 60  # one trace a minute per endpoint and SDK instance
    smoothing: float = 0.5
    max_operations: int = 10_000
    forget_after: int = 60  # intervals without a single root span

    def __post_init__(self) -> None:
        if not (self.target_tps > 0 and math.isfinite(self.target_tps)):
            raise ValueError(f"target traces per second must be > 0, not {self.target_tps!r}")
        if not (0 < self.min_probability <= self.max_probability <= 1):
            raise ValueError(
                f"need 0 < min probability ({self.min_probability!r}) <= max probability "
                f"({self.max_probability!r}) <= 1"
            )
        if not 0 < self.smoothing <= 1:
            raise ValueError(f"smoothing must be in (0, 1], not {self.smoothing!r}")


@dataclass(slots=True)
class _Operation:
    rate: float  # smoothed estimate of real root spans per second
    probability: float
    quiet: int = 0


@dataclass
class AdaptiveRates:
    """The per-operation probabilities; a ``StrategyProvider``. Thread-safe."""

    settings: AdaptiveSettings = field(default_factory=AdaptiveSettings)
    overflow: int = 0
    _operations: dict[Key, _Operation] = field(default_factory=dict)
    _strategies: dict[str, Strategy] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, weighted_roots: Mapping[Key, float], seconds: float) -> None:
        """One interval: ``weighted_roots`` sums adjusted counts of root spans per key."""
        if seconds <= 0:
            return
        s = self.settings
        with self._lock:
            for key, weight in weighted_roots.items():
                if key not in self._operations:
                    if len(self._operations) >= s.max_operations:
                        self.overflow += 1
                        continue
                    rate = weight / seconds  # the first estimate, unsmoothed
                    self._operations[key] = _Operation(rate, self._probability(rate))
            for key, op in list(self._operations.items()):
                observed = weighted_roots.get(key, 0.0) / seconds
                op.quiet = op.quiet + 1 if observed == 0 else 0
                if op.quiet >= s.forget_after:
                    del self._operations[key]
                    continue
                op.rate += s.smoothing * (observed - op.rate)
                op.probability = self._probability(op.rate)
            self._strategies = self._build()

    def probability(self, service: str, operation: str) -> float:
        with self._lock:
            op = self._operations.get((service, operation))
        return self.settings.default_probability if op is None else op.probability

    def strategy(self, service: str) -> Strategy:
        with self._lock:
            found = self._strategies.get(service)
        return found if found is not None else self._empty()

    def _probability(self, rate: float) -> float:
        s = self.settings
        wanted = s.target_tps / rate if rate > 0 else s.max_probability
        return min(max(wanted, s.min_probability), s.max_probability)

    def _empty(self) -> Strategy:
        s = self.settings
        return Strategy(per_operation=PerOperation(s.default_probability, s.lower_bound_tps))

    def _build(self) -> dict[str, Strategy]:
        by_service: dict[str, list[OperationProbability]] = {}
        for (service, operation), op in sorted(self._operations.items()):
            by_service.setdefault(service, []).append(
                OperationProbability(operation, op.probability)
            )
        s = self.settings
        return {
            service: Strategy(
                per_operation=PerOperation(
                    s.default_probability, s.lower_bound_tps, operations=tuple(operations)
                )
            )
            for service, operations in by_service.items()
        }
