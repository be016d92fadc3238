"""The tail sampler's figures on ``/metrics`` (README, "Tail sampling")."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class TailSamplingMetrics:
    """``/metrics`` figures of the tail sampler (on the server's registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.traces = Counter(
            "breadcrumbs_tail_sampling_traces",
            "Traces decided by the tail sampler: kept (by the policy that kept them) or "
            "dropped (policy none).",
            ["decision", "policy"],
            registry=registry,
        )
        self.spans = Counter(
            "breadcrumbs_tail_sampling_spans",
            "Spans handed on (kept) or dropped by the tail sampler, late spans included.",
            ["decision", "policy"],
            registry=registry,
        )
        self.decisions = Counter(
            "breadcrumbs_tail_sampling_decisions",
            "Trace decisions by what triggered them: early (a policy kept it on arrival), "
            "complete, quiet, max_wait, overflow (the memory bound), flush (shutdown, replay).",
            ["trigger"],
            registry=registry,
        )
        self.forgotten = Counter(
            "breadcrumbs_tail_sampling_forgotten_decisions",
            "Decisions dropped from the bounded decision memory (oldest first).",
            registry=registry,
        )
        self.waiting = Gauge(
            "breadcrumbs_tail_sampling_traces_waiting",
            "Traces waiting for a decision.",
            registry=registry,
        )
        self.held = Gauge(
            "breadcrumbs_tail_sampling_spans_held",
            "Spans held by the tail sampler (waiting traces and records not yet handed on).",
            registry=registry,
        )
