"""The tail sampler: a stage between span metrics and the store writer that keeps whole
traces by policy (``sampling/tail/policies.py``) and drops the rest.

No fixed decision wait. A trace is decided as soon as the answer is known: an early policy
keeps it (an error span, a latency threshold crossed, a new operation) the moment such a span
arrives; the root span arriving with no remote call outstanding (each CLIENT span that is not
a database call has its SERVER child) asks every policy. Otherwise it is decided after
``quiet_period_s`` without a new span, and at the latest ``max_wait_s`` after its first; a
trace whose root has not arrived (a root span ends last: it is likely still in flight) waits
for it, up to ``max_wait_s``.
Decisions are remembered (``decision_memory`` trace ids, oldest forgotten first): spans that
arrive after a "keep" are kept, after a "drop" dropped. A trace linked from a kept trace is
kept with it (policy ``linked``), also when it arrives later.

Columnar: a batch is grouped by trace id once (``dictionary_encode`` and numpy bincounts); the
only Python steps are per distinct trace, operation or root span in a batch, never per span.
Spans are held as the WAL records they came in (shared, immutable batches) and filtered by
mask when released.

Release watermark: records are handed on in WAL order, each only once every trace with spans
in it is decided, as one batch of the kept spans tagged with the last record's sequence. So
the writer's persisted sequence always means "every kept span of every record up to here is
stored", ``pending_from`` is the first record held, and after a crash the WAL replays what is
not stored, the sampler decides it again (nothing kept is lost, nothing stored twice). The
price: a kept trace becomes visible only once older traces are decided too, normally within
``quiet_period_s`` (``max_wait_s`` at worst).

Memory is bounded: beyond ``max_traces`` waiting traces or ``max_spans`` held spans the
oldest traces are decided at once with what has arrived (trigger ``overflow`` in
``breadcrumbs_tail_sampling_decisions_total``); a decision forgotten before its late spans are
released keeps them (policy ``unremembered``), so nothing is lost to the bound.

Kept spans carry ``breadcrumbs.sampling.policy``; a trace kept by a probabilistic policy of
rate q has each span's ``ot=th:`` threshold updated to probability p * q, so adjusted counts
(1/p) stay true.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch, SpanKind, StatusCode, concat_batches
from breadcrumbs.pipeline.stages import OnRelease, Stage
from breadcrumbs.sampling import threshold
from breadcrumbs.sampling.tail.columns import database_calls, int_column, with_attribute
from breadcrumbs.sampling.tail.config import TailSamplingConfig
from breadcrumbs.sampling.tail.metrics import TailSamplingMetrics
from breadcrumbs.sampling.tail.policies import REGISTRY, TRACE_SCHEMA, Context, Mask

log = logging.getLogger(__name__)

POLICY_ATTRIBUTE: Final = "breadcrumbs.sampling.policy"
LINKED: Final = "linked"
UNREMEMBERED: Final = "unremembered"
_DROP: Final = -1
_SEPARATOR: Final = "\x1f"


@dataclass(slots=True)
class _Trace:
    """What is known of an undecided trace (one per trace, never per span)."""

    first_seen: float
    last_seen: float
    records: list[int]  # WAL sequences holding its spans, ascending
    spans: int = 0
    error: bool = False
    root: tuple[str, str, int] | None = None  # service, name, duration
    first: tuple[str, str] = ("", "")  # service and name of the first span seen
    start: int = 2**63 - 1
    end: int = -(2**63)
    remote_calls: int = 0  # CLIENT spans that expect an instrumented SERVER child
    remote_children: int = 0  # SERVER spans with a parent
    rarest: float = math.inf
    links: list[str] = field(default_factory=list)

    @property
    def duration(self) -> int:
        return self.root[2] if self.root is not None else max(0, self.end - self.start)

    @property
    def operation(self) -> tuple[str, str]:
        return (self.root[0], self.root[1]) if self.root is not None else self.first

    @property
    def complete(self) -> bool:
        return self.root is not None and self.remote_children >= self.remote_calls


@dataclass(slots=True)
class _Record:
    sequence: int
    batch: SpanBatch
    undecided: int  # undecided traces with spans in it
    trace_ids: list[str]  # its distinct trace ids
    trace_of_span: npt.NDArray[np.intp]  # per span, the index of its trace id there


class TailSampler:
    """A ``Stage``; see the module docstring."""

    name = "tail-sampler"

    def __init__(
        self,
        config: TailSamplingConfig,
        *,
        metrics: TailSamplingMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._metrics = metrics
        self._clock = clock
        self.downstream: Stage | None = None
        self.on_release: OnRelease | None = None
        self._labels = [p.name for p in config.policies] + [LINKED, UNREMEMBERED]
        self._linked = len(config.policies)
        self._unremembered = self._linked + 1
        self._context = Context()
        self._traces: OrderedDict[str, _Trace] = OrderedDict()  # by last span, oldest first
        self._arrivals: deque[tuple[float, str]] = deque()  # (first seen, trace), oldest first
        self._decisions: OrderedDict[str, int] = OrderedDict()  # policy index or _DROP
        self._records: deque[_Record] = deque()
        self._by_sequence: dict[int, _Record] = {}
        self._held_spans = 0
        self._held_bytes = 0
        # Traces with new spans since the last tick: the timer asks the early policies about
        # them (a latency threshold crossed); errors and rare operations are asked at once.
        self._touched: dict[str, None] = {}
        self._rare_below = max(
            (p.params.below for p in config.policies if p.type == "rare_operation"), default=0.0
        )
        self._kept_links: dict[str, list[str]] = {}  # kept in this round, with links
        self._lock = asyncio.Lock()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        if metrics is not None:
            metrics.waiting.set_function(lambda: len(self._traces))
            metrics.held.set_function(lambda: self._held_spans)

    # --- the Stage contract ----------------------------------------------------------------

    @property
    def pending_from(self) -> int | None:
        return self._records[0].sequence if self._records else None

    @property
    def buffered_spans(self) -> int:
        return self._held_spans

    @property
    def buffered_bytes(self) -> int:
        """Arrow bytes of the records held (shared with the stages before it)."""
        return self._held_bytes

    @property
    def waiting_traces(self) -> int:
        return len(self._traces)

    @property
    def remembered_decisions(self) -> int:
        return len(self._decisions)

    async def open(self) -> int:
        return 0  # decisions are not persisted: every record the WAL still holds is decided again

    async def consume(self, batch: SpanBatch, *, wal_sequence: int) -> None:
        if batch.num_rows:
            self._add(batch, wal_sequence)
            self._shed()
        await self._release()

    async def flush(self) -> None:
        self._touched.clear()
        self._decide(list(self._traces), "flush", early=False)
        await self._release()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tail-sampler")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    # --- arrival ---------------------------------------------------------------------------

    def _add(self, batch: SpanBatch, sequence: int) -> None:
        now = self._clock()
        self._context.now = now
        ids = pc.dictionary_encode(batch.column("TraceId").combine_chunks())
        trace_ids: list[str] = ids.dictionary.to_pylist()
        code = ids.indices.to_numpy(zero_copy_only=False).astype(np.intp)
        traces = len(trace_ids)
        rows = int_column(batch, "Timestamp")
        durations = int_column(batch, "Duration")
        kinds = int_column(batch, "SpanKind")
        status = int_column(batch, "StatusCode")
        has_parent = pc.not_equal(batch.column("ParentSpanId"), "").to_numpy()
        spans = np.bincount(code, minlength=traces)
        errors = np.bincount(code, weights=status == StatusCode.ERROR, minlength=traces) > 0
        starts = np.full(traces, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(starts, code, rows)
        ends = np.full(traces, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(ends, code, rows + durations)
        calls = np.bincount(
            code, weights=(kinds == SpanKind.CLIENT) & ~database_calls(batch), minlength=traces
        )
        children = np.bincount(
            code, weights=(kinds == SpanKind.SERVER) & has_parent, minlength=traces
        )
        rarest = self._sightings(batch, code, traces)
        first_row = np.unique(code, return_index=True)[1]
        first = list(
            zip(
                batch.column("ServiceName").take(first_row).to_pylist(),
                batch.column("SpanName").take(first_row).to_pylist(),
                strict=True,
            )
        )
        roots = self._roots(batch, code, has_parent)
        links = self._links(batch, code)

        record = _Record(sequence, batch, 0, trace_ids, code)
        touched: list[str] = []
        urgent: list[str] = []  # an error or a rare operation: an early policy may keep it now
        decisions, waiting = self._decisions, self._traces
        for i, (trace_id, count, error, start, end, call, child, rare) in enumerate(
            zip(
                trace_ids,
                spans.tolist(),
                errors.tolist(),
                starts.tolist(),
                ends.tolist(),
                calls.tolist(),
                children.tolist(),
                rarest.tolist(),
                strict=True,
            )
        ):
            if trace_id in decisions:
                continue  # a late span: it follows the decision when the record is released
            trace = waiting.get(trace_id)
            if trace is None:
                trace = waiting[trace_id] = _Trace(now, now, [sequence], first=first[i])
                self._arrivals.append((now, trace_id))
            else:
                waiting.move_to_end(trace_id)
                trace.last_seen = now
                trace.records.append(sequence)
            record.undecided += 1
            trace.spans += count
            trace.error = trace.error or error
            trace.start = min(trace.start, start)
            trace.end = max(trace.end, end)
            trace.remote_calls += int(call)
            trace.remote_children += int(child)
            trace.rarest = min(trace.rarest, rare)
            if error or rare < self._rare_below:
                urgent.append(trace_id)
            if i in roots:
                trace.root = roots[i]
            if i in links:
                trace.links.extend(links[i])
            touched.append(trace_id)
        self._records.append(record)
        self._by_sequence[sequence] = record
        self._held_spans += batch.num_rows
        self._held_bytes += batch.nbytes
        if touched:
            complete = [t for t in touched if waiting[t].complete]
            self._decide(complete, "complete", early=False)
            self._decide([t for t in urgent if t in waiting], "early", early=True)
            self._touched.update(dict.fromkeys(t for t in touched if t in waiting))

    def _sightings(
        self, batch: SpanBatch, code: npt.NDArray[np.intp], traces: int
    ) -> npt.NDArray[np.float64]:
        """Per trace in the batch, the fewest earlier sightings of any of its operations (one
        Python step per distinct operation); then counts this batch's."""
        sightings = self._context.sightings
        sightings.decay(self._context.now)
        keys = pc.dictionary_encode(
            pc.binary_join_element_wise(
                batch.column("ServiceName"), batch.column("SpanName"), _SEPARATOR
            ).combine_chunks()
        )
        distinct = [tuple(k.split(_SEPARATOR, 1)) for k in keys.dictionary.to_pylist()]
        key_code = keys.indices.to_numpy(zero_copy_only=False).astype(np.intp)
        before = np.array([sightings.seen((k[0], k[1])) for k in distinct], dtype=np.float64)
        rarest = np.full(traces, np.inf)
        np.minimum.at(rarest, code, before[key_code])
        for key, count in zip(
            distinct, np.bincount(key_code, minlength=len(distinct)), strict=True
        ):
            sightings.add((key[0], key[1]), int(count))
        return rarest

    @staticmethod
    def _roots(
        batch: SpanBatch, code: npt.NDArray[np.intp], has_parent: npt.NDArray[np.bool_]
    ) -> dict[int, tuple[str, str, int]]:
        rows = np.flatnonzero(~has_parent)
        if not len(rows):
            return {}
        picked = batch.select(["ServiceName", "SpanName", "Duration"]).take(rows)
        return {
            int(code[row]): (service, name, duration)
            for row, service, name, duration in zip(
                rows, *(picked.column(c).to_pylist() for c in picked.column_names), strict=True
            )
        }

    @staticmethod
    def _links(batch: SpanBatch, code: npt.NDArray[np.intp]) -> dict[int, list[str]]:
        lengths = pc.list_value_length(batch.column("Links")).to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(lengths > 0)
        if not len(rows):
            return {}
        links = batch.column("Links").take(rows).combine_chunks()
        targets = pc.struct_field(pc.list_flatten(links), "TraceId").to_pylist()
        parents = pc.list_parent_indices(links).to_numpy(zero_copy_only=False)
        result: dict[int, list[str]] = {}
        for parent, target in zip(parents, targets, strict=True):
            result.setdefault(int(code[rows[parent]]), []).append(target)
        return result

    # --- decisions -------------------------------------------------------------------------

    def _table(self, trace_ids: list[str]) -> pa.Table:
        traces = [self._traces[t] for t in trace_ids]
        operations = [t.operation for t in traces]
        return pa.Table.from_arrays(
            [
                pa.array(trace_ids, pa.string()),
                pa.array([o[0] for o in operations], pa.string()),
                pa.array([o[1] for o in operations], pa.string()),
                pa.array([t.duration for t in traces], pa.int64()),
                pa.array([t.error for t in traces], pa.bool_()),
                pa.array([t.spans for t in traces], pa.int64()),
                pa.array([t.rarest for t in traces], pa.float64()),
            ],
            schema=TRACE_SCHEMA,
        )

    def _decide(self, trace_ids: list[str], trigger: str, *, early: bool) -> None:
        """Ask the policies about ``trace_ids`` (all waiting); ``early``: only the early
        policies, and a trace none keeps stays waiting (else it is dropped)."""
        if not trace_ids:
            return
        table = self._table(trace_ids)
        choice = np.full(len(trace_ids), _DROP, dtype=np.int64)
        for index, policy in enumerate(self.config.policies):
            kind = REGISTRY[policy.type]
            if early and not kind.early:
                continue
            open_rows = np.flatnonzero(choice == _DROP)
            if not len(open_rows):
                break
            subset = table if len(open_rows) == len(choice) else table.take(open_rows)
            keep: Mask = kind.evaluate(subset, self._context, policy.params, policy.name)
            choice[open_rows[keep]] = index
        decided = [
            (trace_id, int(c))
            for trace_id, c in zip(trace_ids, choice, strict=True)
            if c != _DROP or not early
        ]
        for trace_id, c in decided:
            self._settle(trace_id, c)
        if self._metrics is not None and decided:
            self._metrics.decisions.labels(trigger).inc(len(decided))
        if self._kept_links:
            self._follow_links()

    def _settle(self, trace_id: str, choice: int) -> None:
        trace = self._traces.pop(trace_id)
        self._context.latency.observe(trace.operation, trace.duration)
        for sequence in trace.records:
            self._by_sequence[sequence].undecided -= 1
        self._remember(trace_id, choice)
        if self._metrics is not None:
            if choice == _DROP:
                self._metrics.traces.labels("dropped", "none").inc()
            else:
                self._metrics.traces.labels("kept", self._labels[choice]).inc()
        if choice != _DROP and trace.links and self.config.follow_links:
            self._kept_links[trace_id] = trace.links

    def _remember(self, trace_id: str, choice: int) -> None:
        self._decisions[trace_id] = choice
        self._decisions.move_to_end(trace_id)
        while len(self._decisions) > self.config.decision_memory:
            self._decisions.popitem(last=False)
            if self._metrics is not None:
                self._metrics.forgotten.inc()

    def _follow_links(self) -> None:
        """Keep what the kept traces link to: waiting traces now (which may link on), unseen
        ones on arrival."""
        while self._kept_links:
            targets = [t for links in self._kept_links.values() for t in links]
            self._kept_links.clear()
            for target in dict.fromkeys(targets):
                if target in self._traces:
                    self._settle(target, self._linked)
                    if self._metrics is not None:
                        self._metrics.decisions.labels("linked").inc()
                elif target not in self._decisions:  # kept before its first span arrives
                    self._remember(target, self._linked)
                    if self._metrics is not None:
                        self._metrics.traces.labels("kept", LINKED).inc()
                        self._metrics.decisions.labels("linked").inc()

    def _shed(self) -> None:
        """Over a memory bound, decide the oldest traces now (down to 90% of the trace bound;
        in small steps while too many spans are held)."""
        excess = len(self._traces) - self.config.max_traces
        if excess > 0:
            self._decide(
                self._oldest(excess + self.config.max_traces // 10), "overflow", early=False
            )
        while self._traces and self._held_spans - self._releasable_spans() > self.config.max_spans:
            self._decide(self._oldest(64), "overflow", early=False)

    def _oldest(self, count: int) -> list[str]:
        """Up to ``count`` waiting traces, the first to arrive first."""
        oldest: list[str] = []
        while self._arrivals and len(oldest) < count:
            seen, trace_id = self._arrivals.popleft()
            trace = self._traces.get(trace_id)
            if trace is not None and trace.first_seen == seen:
                oldest.append(trace_id)
        return oldest

    def _releasable_spans(self) -> int:
        spans = 0
        for record in self._records:
            if record.undecided:
                break
            spans += record.batch.num_rows
        return spans

    @property
    def tick_s(self) -> float:
        return min(0.1, self.config.quiet_period_s / 4)

    async def _run(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except Exception:  # a bug here must not stop sampling: logged, tried again
                log.exception("tail sampler: deciding waiting traces failed")

    async def tick(self) -> None:
        """Decide what is due by the clock (a latency threshold crossed, a quiet period or
        max_wait over) and hand on what that releases; ``start``'s task calls it every
        ``tick_s`` (a benchmark on a simulated clock calls it itself)."""
        self._decide_due()
        await self._release()

    def _decide_due(self) -> None:
        now = self._clock()
        self._context.now = now
        touched = [t for t in self._touched if t in self._traces]
        self._touched.clear()
        self._decide(touched, "early", early=True)
        quiet: list[str] = []
        rootless: list[str] = []
        for trace_id, trace in self._traces.items():  # oldest last span first
            if now - trace.last_seen < self.config.quiet_period_s:
                break
            (quiet if trace.root is not None else rootless).append(trace_id)
        self._decide(quiet, "quiet", early=False)
        # Without its root a trace is likely still in flight (a root span ends last): what
        # could keep it now was asked on arrival; a later error must not find it dropped,
        # nor kept at random (weighted 1/rate). Asked again when its root comes, or at
        # max_wait.
        for trace_id in rootless:
            self._traces[trace_id].last_seen = now
            self._traces.move_to_end(trace_id)
        overdue: list[str] = []
        while self._arrivals:  # oldest first; entries of decided traces are dropped here
            seen, trace_id = self._arrivals[0]
            waiting = self._traces.get(trace_id)
            if waiting is not None and waiting.first_seen == seen:
                if now - seen < self.config.max_wait_s:
                    break
                overdue.append(trace_id)
            self._arrivals.popleft()
        self._decide(overdue, "max_wait", early=False)

    # --- release ---------------------------------------------------------------------------

    async def _release(self) -> None:
        """Hand on, in WAL order, the kept spans of every record whose traces are decided."""
        async with self._lock:
            released: list[_Record] = []
            while self._records and self._records[0].undecided == 0:
                record = self._records.popleft()
                del self._by_sequence[record.sequence]
                released.append(record)
            if not released:
                return
            kept = concat_batches([self._kept(record) for record in released])
            self._held_spans -= sum(record.batch.num_rows for record in released)
            self._held_bytes -= sum(record.batch.nbytes for record in released)
            if kept.num_rows and self.downstream is not None:
                await self.downstream.consume(kept, wal_sequence=released[-1].sequence)
        if self.on_release is not None:
            self.on_release()

    def _kept(self, record: _Record) -> SpanBatch:
        """The record's spans whose trace was kept, labelled with the policy."""
        batch = record.batch
        remembered = self._decisions
        choices = np.array(
            [remembered.get(t, self._unremembered) for t in record.trace_ids], dtype=np.int64
        )
        per_span = choices[record.trace_of_span]
        if self._metrics is not None:
            counts = np.bincount(per_span + 1, minlength=len(self._labels) + 1)
            if counts[0]:
                self._metrics.spans.labels("dropped", "none").inc(int(counts[0]))
            for index, count in enumerate(counts[1:]):
                if count:
                    self._metrics.spans.labels("kept", self._labels[index]).inc(int(count))
        keep = per_span != _DROP
        if not keep.any():
            return batch.slice(0, 0)
        if not keep.all():
            batch = batch.filter(pa.array(keep))
            per_span = per_span[keep]
        batch = self._update_thresholds(batch, per_span)
        labels = pa.array(self._labels, pa.string()).take(pa.array(per_span))
        return with_attribute(batch, POLICY_ATTRIBUTE, labels)

    def _update_thresholds(self, batch: SpanBatch, per_span: npt.NDArray[np.int64]) -> SpanBatch:
        """``ot=th:`` of the spans kept by a probabilistic policy: probability p * rate (one
        Python step per distinct TraceState value)."""
        column = batch.column("TraceState")
        for index, policy in enumerate(self.config.policies):
            rate = policy.params.rate
            if policy.type != "probabilistic" or rate >= 1.0 or not (per_span == index).any():
                continue
            states = pc.dictionary_encode(column.combine_chunks())
            updated = pa.array(
                [
                    threshold.tracestate_with_threshold(
                        s, threshold.times(threshold.of_tracestate(s), rate)
                    )
                    for s in states.dictionary.to_pylist()
                ],
                pa.string(),
            ).take(states.indices)
            column = pc.if_else(pa.array(per_span == index), updated, column)
        index = batch.schema.get_field_index("TraceState")
        return batch.set_column(index, batch.schema.field(index), column)
