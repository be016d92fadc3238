"""Query-time fix-ups of one trace, applied in a fixed, documented order (as Jaeger's
``adjuster/standard.go``):

1. ``dedupe``: drop spans identical in every column to an earlier one (a batch delivered
   twice, a WAL replay). Spans sharing an id but differing elsewhere are both kept.
2. ``uniquify_shared``: a Zipkin ``shared`` server half that reuses its client's span id
   (marked ``zipkin.shared=true`` by ``codec.zipkin``) gets a fresh id and becomes the client
   half's child; spans that named the shared id as parent now hang under the server half (as
   Jaeger's ``ZipkinSpanIDUniquifier``), so every later step sees unique ids.
3. ``sort_by_start``: ascending start time, then span id, so every later step and every
   renderer sees one order.
4. ``clock_skew``: a child span whose clocks are another host's (another service, or another
   instance of it) and that does not fit inside its parent is shifted into the parent, assuming
   network latency splits evenly before and after; the shift carries to its descendants on the
   same host. The span gets a warning saying by how much. A span whose parent is absent gets
   Jaeger's ``invalid parent span IDs=...; skipping clock skew adjustment`` warning and is
   treated as a root; a repeated span id gets ``duplicate span IDs; ...``. Shifts larger than
   ``max_delta_ns`` are not applied (warned instead). Re-sorts when anything moved.

Adjusters return new values and never mutate their input. Warnings travel beside the spans,
one tuple per row, because the span schema has no column for them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import pyarrow as pa

from breadcrumbs.model import SPAN_SCHEMA, SpanBatch

WARNING_DUPLICATE_SPAN_ID: Final = "duplicate span IDs; skipping clock skew adjustment"
WARNING_MISSING_PARENT: Final = "invalid parent span IDs={}; skipping clock skew adjustment"
WARNING_ADJUSTED: Final = "This span's timestamps were adjusted by {}"
WARNING_MAX_DELTA: Final = (
    "max clock skew adjustment delta of {} exceeded; not applying calculated delta of {}"
)
DEFAULT_MAX_DELTA_NS: Final = 10 * 60 * 1_000_000_000  # 10 minutes
# codec.zipkin.SHARED_KEY (query does not import codecs): the shared half of a Zipkin RPC span.
ZIPKIN_SHARED_KEY: Final = "zipkin.shared"

# Resource attributes that tell two processes of one service apart (their clocks may differ).
_HOST_KEYS: Final = ("service.instance.id", "host.id", "host.name")


@dataclass(frozen=True, slots=True)
class AdjustedTrace:
    """One trace's spans plus per-row warnings (``warnings[i]`` belongs to row ``i``)."""

    spans: SpanBatch
    warnings: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, spans: SpanBatch) -> AdjustedTrace:
        return cls(spans, ((),) * spans.num_rows)

    @property
    def trace_id(self) -> str:
        return str(self.spans["TraceId"][0].as_py()) if self.spans.num_rows else ""


Adjuster = Callable[[AdjustedTrace], AdjustedTrace]


def _take(trace: AdjustedTrace, indices: Sequence[int]) -> AdjustedTrace:
    return AdjustedTrace(
        trace.spans.take(pa.array(indices, type=pa.int64())),
        tuple(trace.warnings[i] for i in indices),
    )


def dedupe(trace: AdjustedTrace) -> AdjustedTrace:
    span_ids = trace.spans["SpanId"].to_pylist()
    repeated = {span_id for span_id, count in Counter(span_ids).items() if count > 1}
    if not repeated:
        return trace
    # Per-row Python only for rows whose id repeats: a full-row comparison has no column form.
    # Those rows are converted column by column (a slice and conversion per row cost ~0.5 ms:
    # a trace stored 100 times held the event loop for most of a second).
    candidates = [index for index, span_id in enumerate(span_ids) if span_id in repeated]
    rows = trace.spans.take(pa.array(candidates, type=pa.int64()))
    values = zip(*(column.to_pylist() for column in rows.columns), strict=True)
    seen: set[bytes] = set()
    dropped: set[int] = set()
    for index, row in zip(candidates, values, strict=True):
        key = orjson.dumps(row, default=repr)
        if key in seen:
            dropped.add(index)
        else:
            seen.add(key)
    if not dropped:
        return trace
    return _take(trace, [index for index in range(len(span_ids)) if index not in dropped])


def _fresh_id(old: str, taken: set[str]) -> str:
    number = int(old, 16)
    while True:
        number = (number + 1) % 2**64 or 1
        candidate = f"{number:016x}"
        if candidate not in taken:
            return candidate


def uniquify_shared(trace: AdjustedTrace) -> AdjustedTrace:
    span_ids = trace.spans["SpanId"].to_pylist()
    repeated = {span_id for span_id, count in Counter(span_ids).items() if count > 1}
    if not repeated:
        return trace
    attributes = trace.spans["SpanAttributes"].to_pylist()
    parents = trace.spans["ParentSpanId"].to_pylist()
    taken = set(span_ids)
    renamed: dict[str, str] = {}
    new_ids, new_parents = list(span_ids), list(parents)
    # Per-row Python only on traces with repeated ids (Zipkin shared RPC spans).
    for index, span_id in enumerate(span_ids):
        if span_id in repeated and (ZIPKIN_SHARED_KEY, "true") in attributes[index]:
            fresh = _fresh_id(span_id, taken)
            taken.add(fresh)
            renamed.setdefault(span_id, fresh)
            new_ids[index], new_parents[index] = fresh, span_id
    if not renamed:
        return trace
    for index, parent in enumerate(parents):
        if parent in renamed and new_parents[index] == parent and new_ids[index] != parent:
            new_parents[index] = renamed[parent]
    spans = trace.spans.set_column(
        trace.spans.schema.get_field_index("SpanId"),
        SPAN_SCHEMA.field("SpanId"),
        pa.array(new_ids, type=pa.string()),
    )
    spans = spans.set_column(
        spans.schema.get_field_index("ParentSpanId"),
        SPAN_SCHEMA.field("ParentSpanId"),
        pa.array(new_parents, type=pa.string()),
    )
    return AdjustedTrace(spans, trace.warnings)


def sort_by_start(trace: AdjustedTrace) -> AdjustedTrace:
    starts = trace.spans["Timestamp"].to_pylist()
    span_ids = trace.spans["SpanId"].to_pylist()
    order = sorted(range(len(starts)), key=lambda i: (starts[i], span_ids[i]))
    if order == list(range(len(starts))):
        return trace
    return _take(trace, order)


def format_go_duration(ns: int) -> str:
    """A duration as Go's ``time.Duration.String`` spells it (``1.5ms``, ``2m3s``)."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)

    def decimal(value: int, unit: int) -> str:
        whole, frac = divmod(value, unit)
        digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
        return f"{whole}.{digits}" if digits else str(whole)

    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{decimal(ns, 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{decimal(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    text = f"{decimal(rest, 1_000_000_000)}s"
    if hours:
        text = f"{hours}h{minutes}m{text}"
    elif minutes:
        text = f"{minutes}m{text}"
    return sign + text


def _host_keys(spans: SpanBatch) -> list[str]:
    services = spans["ServiceName"].to_pylist()
    resources = spans["ResourceAttributes"].to_pylist()
    keys = []
    for service, entries in zip(services, resources, strict=True):
        attrs = dict(entries)
        instance = next((attrs[k] for k in _HOST_KEYS if attrs.get(k)), "")
        keys.append(f"{service}\x00{instance}")
    return keys


def _skew(start: int, duration: int, parent_start: int, parent_duration: int) -> int:
    """The shift that puts a child inside its parent (0 when it already fits)."""
    if duration > parent_duration:
        # Cannot fit: at least do not start before the parent.
        return parent_start - start if start < parent_start else 0
    if start >= parent_start and start + duration <= parent_start + parent_duration:
        return 0
    latency = (parent_duration - duration) // 2
    return parent_start + latency - start


def _shift_events(events: list[Any], delta: int) -> list[Any]:
    return [{**event, "Timestamp": event["Timestamp"] + delta} for event in events]


def make_clock_skew(max_delta_ns: int = DEFAULT_MAX_DELTA_NS) -> Adjuster:
    def clock_skew(trace: AdjustedTrace) -> AdjustedTrace:
        spans = trace.spans
        # Per-span Python: a tree walk has no columnar form.
        span_ids = spans["SpanId"].to_pylist()
        parents = spans["ParentSpanId"].to_pylist()
        starts = spans["Timestamp"].to_pylist()
        durations = spans["Duration"].to_pylist()
        hosts = _host_keys(spans)
        warnings = [list(w) for w in trace.warnings]

        node: dict[str, int] = {}
        for index, span_id in enumerate(span_ids):
            if span_id in node:
                warnings[index].append(WARNING_DUPLICATE_SPAN_ID)
            else:
                node[span_id] = index
        children: dict[int, list[int]] = {}
        roots: list[int] = []
        for span_id, index in node.items():
            parent_id = parents[index]
            if not parent_id:
                roots.append(index)
            elif parent_id not in node or parent_id == span_id:
                warnings[index].append(WARNING_MISSING_PARENT.format(parent_id))
                roots.append(index)
            else:
                children.setdefault(node[parent_id], []).append(index)

        deltas = [0] * len(span_ids)
        new_starts = list(starts)
        # Iterative walk: (row, parent row or -1, inherited delta, inherited host).
        stack = [(root, -1, 0, hosts[root]) for root in reversed(roots)]
        visited: set[int] = set()
        while stack:
            index, parent, delta, host = stack.pop()
            if index in visited:
                continue
            visited.add(index)
            if parent >= 0 and hosts[index] != host:
                delta = _skew(
                    starts[index], durations[index], new_starts[parent], durations[parent]
                )
                host = hosts[index]
            if delta:
                if abs(delta) > max_delta_ns:
                    warnings[index].append(
                        WARNING_MAX_DELTA.format(
                            format_go_duration(max_delta_ns), format_go_duration(delta)
                        )
                    )
                else:
                    deltas[index] = delta
                    new_starts[index] = starts[index] + delta
                    warnings[index].append(WARNING_ADJUSTED.format(format_go_duration(delta)))
            for child in reversed(children.get(index, [])):
                stack.append((child, index, deltas[index], host))

        adjusted = AdjustedTrace(spans, tuple(tuple(w) for w in warnings))
        if not any(deltas):
            return adjusted
        events = spans["Events"].to_pylist()
        shifted_events = [
            _shift_events(evs, d) if d else evs for evs, d in zip(events, deltas, strict=True)
        ]
        columns = dict(zip(spans.column_names, spans.columns, strict=True))
        columns["Timestamp"] = pa.array(new_starts, type=pa.int64())
        columns["Events"] = pa.array(shifted_events, type=SPAN_SCHEMA.field("Events").type)
        table = pa.Table.from_pydict(columns, schema=SPAN_SCHEMA)
        return sort_by_start(AdjustedTrace(table, adjusted.warnings))

    return clock_skew


def standard_adjusters(
    max_delta_ns: int = DEFAULT_MAX_DELTA_NS, *, shared_ids: bool = False
) -> tuple[Adjuster, ...]:
    """The order every trace read goes through; see the module docstring. ``shared_ids``
    leaves out ``uniquify_shared``: the Zipkin API shows both halves of an RPC under one id."""
    if shared_ids:
        return (dedupe, sort_by_start, make_clock_skew(max_delta_ns))
    return (dedupe, uniquify_shared, sort_by_start, make_clock_skew(max_delta_ns))


def adjust(spans: SpanBatch, adjusters: Sequence[Adjuster]) -> AdjustedTrace:
    trace = AdjustedTrace.of(spans)
    for adjuster in adjusters:
        trace = adjuster(trace)
    return trace
