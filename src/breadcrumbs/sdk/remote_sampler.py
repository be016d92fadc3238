"""A Jaeger remote sampler for the OpenTelemetry Python SDK (which has none): head sampling
decided by breadcrumbs (or any server of Jaeger's remote sampling API).

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased
    from breadcrumbs.sdk import JaegerRemoteSampler

    sampler = JaegerRemoteSampler("checkout", "http://localhost:5778/sampling")
    provider = TracerProvider(sampler=ParentBased(sampler))

or, with ``sdk.init`` or ``opentelemetry-instrument``, ``OTEL_TRACES_SAMPLER=
parentbased_jaeger_remote`` and ``OTEL_TRACES_SAMPLER_ARG=endpoint=http://localhost:5778,
pollingIntervalMs=60000,initialSamplingRate=0.001`` (the specification's names; the endpoint
here is the HTTP one, ``/sampling`` added when the URL has no path).

A background thread fetches ``GET <endpoint>?service=<name>`` at once and then every polling
interval (with jitter, so a fleet does not poll in step). Until the first answer the
sampler keeps ``initial_probability`` of traces; when the server is away later it keeps the
last strategy it got. It honours the three strategies of the protocol:

- probabilistic: p for every root span;
- per operation: p by span name, a default for the others, and the lower bound (at least
  ``defaultLowerBoundTracesPerSecond`` per operation): an operation whose traffic is below
  ``bound / p`` is sampled at ``bound / traffic`` instead, traffic estimated per second;
- rate limiting: at most N traces per second, as a probability ``N / traffic`` plus a token
  bucket that caps bursts.

Every decision is OpenTelemetry consistent probability sampling: a trace is kept when its
randomness (the trace id's low 56 bits, or ``rv`` in the tracestate) is at or above the
threshold of p, and the kept span records ``ot=th:<threshold>`` in its W3C tracestate, so
breadcrumbs weights it by 1/p ("counts stay true"), and a rate-limited decision still
carries the probability it amounted to.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import orjson
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from breadcrumbs.sampling import threshold, wire
from breadcrumbs.sampling.strategy import Probabilistic, Strategy

__all__ = ["DEFAULT_ENDPOINT", "JaegerRemoteSampler", "from_sampler_arg"]

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT: Final = "http://localhost:5778/sampling"
DEFAULT_POLLING_INTERVAL_S: Final = 60.0
DEFAULT_INITIAL_PROBABILITY: Final = 0.001  # as the Java and Go remote samplers
MAX_OPERATIONS: Final = 2000  # beyond it, operations share the default (as Jaeger's SDKs)
_RATE_WINDOW_S: Final = 1.0  # traffic is estimated per second, smoothed
_RATE_SMOOTHING: Final = 0.3
_JITTER: Final = 0.1
_TIMEOUT_S: Final = 5.0


@dataclass
class _Traffic:
    """Calls per second of one operation (or the whole service), smoothed per second."""

    rate: float = 0.0
    count: int = 0
    since: float = field(default_factory=time.monotonic)
    started: bool = False

    def add(self, now: float) -> float:
        self.count += 1
        elapsed = now - self.since
        if elapsed >= _RATE_WINDOW_S:
            observed = self.count / elapsed
            self.rate = (
                observed
                if not self.started
                else self.rate + _RATE_SMOOTHING * (observed - self.rate)
            )
            self.started = True
            self.count, self.since = 0, now
        # Before the first full second: what arrived so far, as if over the whole second
        # (a low estimate, so a new operation is sampled generously rather than starved).
        return self.rate if self.started else self.count / _RATE_WINDOW_S


@dataclass
class _TokenBucket:
    per_second: float
    tokens: float
    last: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> bool:
        capacity = max(1.0, self.per_second)
        self.tokens = min(capacity, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class _Decider:
    """One fetched strategy, ready to decide: the probability for a span name, now."""

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        ops = strategy.per_operation
        self._per_operation = {op.operation: op.rate for op in ops.operations} if ops else None
        self._lower_bound = ops.lower_bound_tps if ops else 0.0
        self._traffic: dict[str, _Traffic] = {}
        self._service = _Traffic()
        limit = strategy.rate_limiting
        self._bucket = (
            _TokenBucket(limit.max_traces_per_second, max(1.0, limit.max_traces_per_second))
            if limit is not None and ops is None
            else None
        )
        self._lock = threading.Lock()

    def probability(self, name: str, now: float) -> tuple[float, bool]:
        """(p, allowed): ``allowed`` is False when a rate limit's bucket is empty."""
        s = self.strategy
        with self._lock:
            if s.per_operation is not None and self._per_operation is not None:
                p = self._per_operation.get(name, s.per_operation.default_probability)
                if self._lower_bound > 0 and p < 1:
                    traffic = self._traffic.get(name)
                    if traffic is None and len(self._traffic) < MAX_OPERATIONS:
                        traffic = self._traffic[name] = _Traffic()
                    if traffic is not None:
                        rate = traffic.add(now)
                        p = max(p, min(1.0, self._lower_bound / rate) if rate > 0 else 1.0)
                return p, True
            if s.probabilistic is not None:
                return s.probabilistic.rate, True
            if s.rate_limiting is not None and self._bucket is not None:
                limit = s.rate_limiting.max_traces_per_second
                rate = self._service.add(now)
                p = min(1.0, limit / rate) if rate > 0 else 1.0
                return p, self._bucket.take(now)
        return 0.0, True


class JaegerRemoteSampler(Sampler):
    """A root sampler; wrap it in ``ParentBased`` so child spans follow their parent."""

    def __init__(
        self,
        service_name: str,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        polling_interval_s: float = DEFAULT_POLLING_INTERVAL_S,
        initial_probability: float = DEFAULT_INITIAL_PROBABILITY,
        poll: bool = True,
    ) -> None:
        if not 0 <= initial_probability <= 1:
            raise ValueError(f"initial sampling rate {initial_probability!r} is not in [0, 1]")
        if polling_interval_s <= 0:
            raise ValueError(f"polling interval {polling_interval_s!r} must be > 0")
        self.service_name = service_name
        self.url = strategy_url(endpoint, service_name)
        self.polling_interval_s = polling_interval_s
        self.initial_probability = initial_probability
        self._initial = _Decider(Strategy(probabilistic=Probabilistic(initial_probability)))
        self._decider = self._initial
        self.fetched = threading.Event()  # set once a strategy has arrived
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if poll:
            self._thread = threading.Thread(
                target=self._poll, name=f"jaeger-remote-sampler-{service_name}", daemon=True
            )
            self._thread.start()

    @property
    def strategy(self) -> Strategy | None:
        """The strategy in force, None until one was fetched."""
        return self._decider.strategy if self.fetched.is_set() else None

    def close(self) -> None:
        """Stop polling (the last strategy stays in force)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=_TIMEOUT_S + 1)

    def update(self) -> bool:
        """Fetch the strategy now; True when it arrived (else the current one stays)."""
        try:
            # strategy_url() admitted only http(s) URLs.
            request = urllib.request.Request(self.url, headers={"Accept": "application/json"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
                strategy = wire.from_json(orjson.loads(response.read()))
        except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
            if not self._failing:
                log.warning(
                    "sampling strategy for %r not fetched from %s (%s); keeping %s",
                    self.service_name,
                    self.url,
                    error,
                    "the last one" if self.fetched.is_set() else f"p={self.initial_probability:g}",
                )
            self._failing = True
            return False
        if self._failing:
            log.info("sampling strategy for %r fetched again from %s", self.service_name, self.url)
        self._failing = False
        if not self.fetched.is_set() or strategy != self._decider.strategy:
            self._decider = _Decider(strategy)
        self.fetched.set()
        return True

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.update()
            wait = self.polling_interval_s * (1 + random.uniform(-_JITTER, _JITTER))
            self._stop.wait(wait)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        p, allowed = self._decider.probability(name, time.monotonic())
        parent = get_current_span(parent_context).get_span_context()
        state = parent.trace_state if parent.is_valid else (trace_state or TraceState())
        ot = state.get("ot") or ""
        t = threshold.threshold(p)
        keep = allowed and t < threshold.MAX_THRESHOLD and threshold.randomness(trace_id, ot) >= t
        if not keep:
            return SamplingResult(
                Decision.DROP, None, _set_ot(state, threshold.without_threshold(ot))
            )
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE, attributes, _set_ot(state, threshold.with_threshold(ot, t))
        )

    def get_description(self) -> str:
        return f"JaegerRemoteSampler{{{self.service_name}, {self.url}}}"


def _set_ot(state: TraceState, ot: str) -> TraceState:
    if not ot:
        return state.delete("ot") if "ot" in state else state
    return state.update("ot", ot) if "ot" in state else state.add("ot", ot)


def strategy_url(endpoint: str, service_name: str) -> str:
    """``endpoint`` (``/sampling`` added when it has no path) with ``?service=<name>``."""
    parts = urllib.parse.urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"sampling endpoint {endpoint!r} is not an http(s) URL")
    path = parts.path if parts.path not in ("", "/") else "/sampling"
    query = urllib.parse.urlencode({"service": service_name})
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def from_sampler_arg(service_name: str, arg: str) -> JaegerRemoteSampler:
    """The sampler ``OTEL_TRACES_SAMPLER=[parentbased_]jaeger_remote`` asks for, from
    ``OTEL_TRACES_SAMPLER_ARG`` (``endpoint=...,pollingIntervalMs=...,initialSamplingRate=...``,
    each optional)."""
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in arg.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG: {part!r} is not key=value")
        options[key.strip()] = value.strip()
    unknown = set(options) - {"endpoint", "pollingIntervalMs", "initialSamplingRate"}
    if unknown:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG: unknown option {sorted(unknown)[0]!r}")
    try:
        interval_s = (
            float(options.get("pollingIntervalMs", DEFAULT_POLLING_INTERVAL_S * 1000)) / 1000
        )
        initial = float(options.get("initialSamplingRate", DEFAULT_INITIAL_PROBABILITY))
    except ValueError as error:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG: {error}") from None
    return JaegerRemoteSampler(
        service_name,
        options.get("endpoint", DEFAULT_ENDPOINT),
        polling_interval_s=interval_s,
        initial_probability=initial,
    )


def _service_name_from_env() -> str:
    from opentelemetry.sdk.resources import OTELResourceDetector

    name = OTELResourceDetector().detect().attributes.get("service.name")
    return str(name) if name else "unknown_service"


def jaeger_remote(arg: str) -> Sampler:
    """Entry point ``opentelemetry_traces_sampler: jaeger_remote`` (for
    ``opentelemetry-instrument``)."""
    return from_sampler_arg(_service_name_from_env(), arg)


def parentbased_jaeger_remote(arg: str) -> Sampler:
    """Entry point ``opentelemetry_traces_sampler: parentbased_jaeger_remote``."""
    return ParentBased(from_sampler_arg(_service_name_from_env(), arg))
