"""Tail-sampling policies: one small function of one shape each, in a registry.

A policy reads a table of traces ready for a decision (``TRACE_COLUMNS``, one row per trace)
and returns a boolean mask: True where it keeps the trace. The sampler asks the configured
policies in order; the first that keeps a trace is the one it is attributed to (the
``breadcrumbs.sampling.policy`` span attribute), and a trace no policy keeps is dropped.

``early`` policies keep only on knowledge that later spans cannot take back (an error seen, a
duration already over a threshold, an operation never seen), so the sampler asks them as soon
as spans arrive; the others are asked once the trace is complete or quiet.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Mask = npt.NDArray[np.bool_]
OperationKey = tuple[str, str]  # (service, span name)

TRACE_SCHEMA: Final = pa.schema(
    [
        pa.field("TraceId", pa.string(), nullable=False),
        pa.field("ServiceName", pa.string(), nullable=False),  # of the root (else first) span
        pa.field("SpanName", pa.string(), nullable=False),  # of the root (else first) span
        pa.field("Duration", pa.int64(), nullable=False),  # root's, else last end - first start
        pa.field("Error", pa.bool_(), nullable=False),  # any span with StatusCode Error
        pa.field("Spans", pa.int64(), nullable=False),
        pa.field("RarestSightings", pa.float64(), nullable=False),  # of its operations, before it
    ]
)
TRACE_COLUMNS: Final[tuple[str, ...]] = tuple(TRACE_SCHEMA.names)
_RANDOM_DIGITS: Final = 14  # 56 bits, as in OpenTelemetry's consistent probability sampling
_NIBBLES: Final = np.full(256, 0, dtype=np.uint64)
for _code, _char in enumerate("0123456789abcdef"):
    _NIBBLES[ord(_char)] = _code
    _NIBBLES[ord(_char.upper())] = _code


@dataclass(frozen=True, slots=True)
class Params:
    """Every policy's parameters (each policy reads its own; ``policy_file`` checks them)."""

    threshold_s: float | None = None  # latency: any operation slower than this
    operations: Mapping[OperationKey, float] = field(default_factory=dict)  # latency, per op
    percentile: float | None = None  # latency: slower than the operation's recent percentile
    min_samples: int = 50  # latency: traces of an operation seen before its percentile counts
    below: float = 1.0  # rare_operation: sightings (decayed) under which an operation is rare
    traces_per_second: float = 10.0  # rate_limit, per service
    rate: float = 1.0  # probabilistic: share of the remaining traces kept


class LatencyStats:
    """Recent trace durations per root operation (a ring of the last ``window`` each), for a
    percentile; at most ``max_operations`` operations are tracked (the rest have none)."""

    def __init__(self, window: int = 1024, max_operations: int = 10_000) -> None:
        self.window = window
        self.max_operations = max_operations
        self._rings: dict[OperationKey, npt.NDArray[np.int64]] = {}
        self._counts: dict[OperationKey, int] = {}
        self._cache: dict[tuple[OperationKey, float], tuple[int, float]] = {}

    def observe(self, key: OperationKey, duration_ns: int) -> None:
        ring = self._rings.get(key)
        if ring is None:
            if len(self._rings) >= self.max_operations:
                return
            ring = self._rings[key] = np.zeros(self.window, dtype=np.int64)
            self._counts[key] = 0
        count = self._counts[key]
        ring[count % self.window] = duration_ns
        self._counts[key] = count + 1

    def samples(self, key: OperationKey) -> int:
        return self._counts.get(key, 0)

    def percentile(self, key: OperationKey, q: float) -> float:
        """The ``q`` percentile of the recent durations (ns), recomputed every 32 sightings."""
        count = self._counts.get(key, 0)
        if count == 0:
            return math.inf
        cached = self._cache.get((key, q))
        if cached is not None and count - cached[0] < 32:
            return cached[1]
        value = float(np.percentile(self._rings[key][: min(count, self.window)], q))
        self._cache[(key, q)] = (count, value)
        return value


class OperationSightings:
    """How often each (service, operation) was seen, halved every ``half_life_s``: what is
    rare is rare recently. At most ``max_operations`` are tracked; the others count as common
    (a flood of new names must not keep every trace)."""

    def __init__(self, half_life_s: float = 600.0, max_operations: int = 100_000) -> None:
        self.half_life_s = half_life_s
        self.max_operations = max_operations
        self._counts: dict[OperationKey, float] = {}
        self._decayed_at: float | None = None

    def decay(self, now: float) -> None:
        if self._decayed_at is None:
            self._decayed_at = now
            return
        halvings = int((now - self._decayed_at) / self.half_life_s)
        if halvings <= 0:
            return
        factor = 0.5**halvings
        self._counts = {k: v * factor for k, v in self._counts.items() if v * factor >= 0.01}
        self._decayed_at += halvings * self.half_life_s

    def seen(self, key: OperationKey) -> float:
        """Sightings before now; ``inf`` for an operation beyond the tracking bound."""
        count = self._counts.get(key)
        if count is None and len(self._counts) >= self.max_operations:
            return math.inf
        return count or 0.0

    def add(self, key: OperationKey, spans: int) -> None:
        if key in self._counts or len(self._counts) < self.max_operations:
            self._counts[key] = self._counts.get(key, 0.0) + spans


class TokenBucket:
    def __init__(self, per_second: float, now: float) -> None:
        self.per_second = per_second
        self.tokens = max(1.0, per_second)  # a second's worth to start with
        self._at = now

    def take(self, wanted: int, now: float) -> int:
        """How many of ``wanted`` traces fit now."""
        self.tokens = min(
            max(1.0, self.per_second), self.tokens + (now - self._at) * self.per_second
        )
        self._at = now
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        return granted


@dataclass(slots=True)
class Context:
    """What policies may read besides the traces: the sampler's recent statistics."""

    now: float = 0.0
    latency: LatencyStats = field(default_factory=LatencyStats)
    sightings: OperationSightings = field(default_factory=OperationSightings)
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)


Policy = Callable[[pa.Table, Context, Params, str], Mask]
"""(traces, context, parameters, the policy's configured name) -> keep mask."""


def _bools(traces: pa.Table, name: str) -> Mask:
    return np.asarray(traces.column(name).to_numpy(), dtype=np.bool_)


def _numbers(traces: pa.Table, name: str) -> npt.NDArray[np.float64]:
    return np.asarray(traces.column(name).to_numpy(), dtype=np.float64)


def _per_operation(
    traces: pa.Table, value: Callable[[OperationKey], float]
) -> npt.NDArray[np.float64]:
    """``value`` of each trace's root operation, one Python call per distinct operation."""
    keys = pc.binary_join_element_wise(traces["ServiceName"], traces["SpanName"], "\x1f")
    encoded = pc.dictionary_encode(keys).combine_chunks()
    distinct = [tuple(text.split("\x1f", 1)) for text in encoded.dictionary.to_pylist()]
    values = np.array([value((k[0], k[1])) for k in distinct], dtype=np.float64)
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.intp)
    result: npt.NDArray[np.float64] = values[indices]
    return result


def error(traces: pa.Table, ctx: Context, params: Params, name: str) -> Mask:
    """Every trace with a span whose status is Error."""
    return _bools(traces, "Error")


def latency(traces: pa.Table, ctx: Context, params: Params, name: str) -> Mask:
    """Traces slower than their root operation's threshold (or the default one) or than the
    operation's recent ``percentile`` (once it has ``min_samples`` traces)."""

    def limit(key: OperationKey) -> float:
        fixed = params.operations.get(key, params.threshold_s)
        bound = math.inf if fixed is None else fixed * 1e9
        if params.percentile is not None and ctx.latency.samples(key) >= params.min_samples:
            bound = min(bound, ctx.latency.percentile(key, params.percentile))
        return bound

    return _numbers(traces, "Duration") > _per_operation(traces, limit)


def rare_operation(traces: pa.Table, ctx: Context, params: Params, name: str) -> Mask:
    """Traces with an operation seen fewer than ``below`` times recently (1: new ones)."""
    return _numbers(traces, "RarestSightings") < params.below


def rate_limit(traces: pa.Table, ctx: Context, params: Params, name: str) -> Mask:
    """Up to ``traces_per_second`` traces per service (a token bucket each)."""
    services = pc.dictionary_encode(traces["ServiceName"]).combine_chunks()
    indices = services.indices.to_numpy(zero_copy_only=False)
    keep = np.zeros(traces.num_rows, dtype=np.bool_)
    for code, service in enumerate(services.dictionary.to_pylist()):
        bucket = ctx.buckets.get((name, service))
        if bucket is None:
            bucket = ctx.buckets[(name, service)] = TokenBucket(params.traces_per_second, ctx.now)
        rows = np.flatnonzero(indices == code)
        keep[rows[: bucket.take(len(rows), ctx.now)]] = True
    return keep


def trace_randomness(trace_ids: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint64]:
    """56 random bits per trace from its first 14 hex digits: independent of the last 56 bits
    that head samplers (OpenTelemetry's consistent and TraceIdRatioBased ones) compare."""
    heads = pc.utf8_slice_codeunits(trace_ids, 0, _RANDOM_DIGITS)
    if isinstance(heads, pa.ChunkedArray):
        heads = heads.combine_chunks()
    lengths = pc.utf8_length(heads).to_numpy(zero_copy_only=False)
    if len(heads) and (lengths != _RANDOM_DIGITS).any():  # not normalised: never in practice
        return np.array([int(t.ljust(14, "0"), 16) for t in heads.to_pylist()], dtype=np.uint64)
    offsets = np.frombuffer(heads.buffers()[1], dtype=np.int32)[heads.offset :]
    data = np.frombuffer(heads.buffers()[2], dtype=np.uint8)
    start = int(offsets[0]) if len(heads) else 0
    digits = data[start : start + _RANDOM_DIGITS * len(heads)].reshape(-1, _RANDOM_DIGITS)
    values = np.zeros(len(heads), dtype=np.uint64)
    for column in range(_RANDOM_DIGITS):
        values = (values << np.uint64(4)) | _NIBBLES[digits[:, column]]
    return values


def probabilistic(traces: pa.Table, ctx: Context, params: Params, name: str) -> Mask:
    """A ``rate`` share of traces, chosen by trace id (every span of a trace alike, and the
    same choice after a replay)."""
    bound = np.uint64(min(1 << 56, round(params.rate * (1 << 56))))
    return np.asarray(trace_randomness(traces["TraceId"]) < bound, dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class PolicyType:
    evaluate: Policy
    early: bool
    params: frozenset[str]  # the keys a policy file may give it


REGISTRY: Final[Mapping[str, PolicyType]] = {
    "error": PolicyType(error, early=True, params=frozenset()),
    "latency": PolicyType(
        latency,
        early=True,
        params=frozenset({"threshold", "operations", "percentile", "min_samples"}),
    ),
    "rare_operation": PolicyType(rare_operation, early=True, params=frozenset({"below"})),
    "rate_limit": PolicyType(rate_limit, early=False, params=frozenset({"traces_per_second"})),
    "probabilistic": PolicyType(probabilistic, early=False, params=frozenset({"rate"})),
}
