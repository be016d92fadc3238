"""The tail sampler stage on hand-built batches, through the real store writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import (
    Link,
    Span,
    SpanBatch,
    SpanKind,
    StatusCode,
    batch_from_spans,
    concat_batches,
    decode_attributes,
)
from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.pipeline.tail_sampler import POLICY_ATTRIBUTE, TailSampler
from breadcrumbs.pipeline.writer import StoreWriter
from breadcrumbs.sampling.tail import config
from breadcrumbs.sampling.tail.columns import with_attribute
from breadcrumbs.sampling.tail.config import ConfiguredPolicy, TailSamplingConfig
from breadcrumbs.sampling.tail.metrics import TailSamplingMetrics
from breadcrumbs.sampling.tail.policies import Params, trace_randomness
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import GetTracesParams
from breadcrumbs.store.duckdb import DuckDBStore

from .crash_child import MAX_BATCHES, PRODUCERS, SAMPLED_RATE, sampled_stages
from .support import MemoryStore, make_trace_batch, sampled_trace_id
from .test_wal import acks_then_sigkill

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
KEPT_ID = "00000000000000" + "0" * 17 + "1"  # randomness 0: any probabilistic rate keeps it
DROPPED_ID = "ffffffffffffff" + "0" * 17 + "1"  # randomness max: no rate below 1 keeps it


async def eventually(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """A bounded poll, generous for a loaded CI machine."""
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def span(
    trace_id: str,
    number: int,
    *,
    parent: int | None = None,
    error: bool = False,
    duration_ms: float = 5,
    service: str = "shop",
    name: str = "GET /",
    kind: SpanKind = SpanKind.INTERNAL,
    links: Sequence[Link] = (),
    trace_state: str = "",
) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=f"{number:016x}",
        parent_span_id="" if parent is None else f"{parent:016x}",
        name=name,
        service=service,
        start_ns=T0 + number,
        duration_ns=int(duration_ms * MS),
        kind=kind,
        status=StatusCode.ERROR if error else StatusCode.UNSET,
        attributes={"n": number},
        links=links,
        trace_state=trace_state,
    )


def sampler_config(rate: float = 0.1, **settings: object) -> TailSamplingConfig:
    base = config.for_rate(rate)
    values: dict[str, object] = {"policies": base.policies, "quiet_period_s": 60.0, **settings}
    return TailSamplingConfig(**values)  # type: ignore[arg-type]


class Rig:
    """A sampler wired to the real store writer on a memory store."""

    def __init__(self, sampling: TailSamplingConfig) -> None:
        self.clock = FakeClock()
        self.metrics = SelfMetrics()
        self.sampler = TailSampler(
            sampling, metrics=TailSamplingMetrics(self.metrics.registry), clock=self.clock
        )
        self.store = MemoryStore()
        self.writer = StoreWriter(self.store, flush_spans=1_000_000, flush_interval_s=60)
        self.sampler.downstream = self.writer
        self.sequence = 0
        self.releases = 0

        def released() -> None:
            self.releases += 1

        self.sampler.on_release = released

    async def send(self, *spans: Span) -> None:
        self.sequence += 1
        await self.sampler.consume(batch_from_spans(list(spans)), wal_sequence=self.sequence)

    async def stored(self) -> SpanBatch:
        await self.writer.flush()
        return self.store.all()

    def pending_from(self) -> int | None:
        return self.sampler.pending_from

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


def policies(batch: SpanBatch) -> dict[str, str]:
    """Trace id -> the policy attribute of its spans (asserting they agree)."""
    result: dict[str, str] = {}
    for trace_id, entries, codes in zip(
        batch["TraceId"].to_pylist(),
        batch["SpanAttributes"].to_pylist(),
        batch["SpanAttributeTypes"].to_pylist(),
        strict=True,
    ):
        label = decode_attributes(entries, codes)[POLICY_ATTRIBUTE]
        assert result.setdefault(trace_id, str(label)) == label
    return result


async def test_an_error_keeps_the_trace_at_once() -> None:
    rig = Rig(sampler_config())
    await rig.send(span(DROPPED_ID, 2, parent=1), span(DROPPED_ID, 3, parent=1, error=True))
    stored = await rig.stored()  # quiet period 60 s: only an early decision hands it on
    assert policies(stored) == {DROPPED_ID: "error"}
    assert stored.num_rows == 2
    # The original attributes are all still there, the policy added with its type code.
    first = decode_attributes(
        stored["SpanAttributes"][0].as_py(), stored["SpanAttributeTypes"][0].as_py()
    )
    assert first == {"n": 2, POLICY_ATTRIBUTE: "error"}
    assert rig.count("breadcrumbs_tail_sampling_traces_total", decision="kept", policy="error") == 1
    assert rig.count("breadcrumbs_tail_sampling_decisions_total", trigger="early") == 1


async def test_a_complete_healthy_trace_is_decided_without_waiting() -> None:
    rig = Rig(sampler_config())
    for trace_id in (KEPT_ID, DROPPED_ID):
        await rig.send(
            span(trace_id, 2, parent=1, kind=SpanKind.CLIENT, name="GET /stock"),
            span(trace_id, 3, parent=2, kind=SpanKind.SERVER, service="stock"),
            span(trace_id, 1, kind=SpanKind.SERVER),
        )
    stored = await rig.stored()
    assert policies(stored) == {KEPT_ID: "probabilistic"}
    assert rig.sampler.waiting_traces == 0
    assert rig.sampler.buffered_spans == 0
    assert (
        rig.count("breadcrumbs_tail_sampling_traces_total", decision="dropped", policy="none") == 1
    )
    assert (
        rig.count("breadcrumbs_tail_sampling_spans_total", decision="dropped", policy="none") == 3
    )
    assert rig.count("breadcrumbs_tail_sampling_decisions_total", trigger="complete") == 2


async def test_an_outstanding_remote_call_waits_for_its_server_side() -> None:
    rig = Rig(sampler_config())
    await rig.send(
        span(DROPPED_ID, 2, parent=1, kind=SpanKind.CLIENT, name="GET /stock"),
        span(DROPPED_ID, 1, kind=SpanKind.SERVER),
    )
    assert rig.sampler.waiting_traces == 1  # the stock service's spans may still come
    await rig.send(span(DROPPED_ID, 3, parent=2, kind=SpanKind.SERVER, service="stock", error=True))
    assert policies(await rig.stored()) == {DROPPED_ID: "error"}
    # A database call has no traced server side: nothing to wait for.
    db = Span(
        trace_id=KEPT_ID,
        span_id=f"{5:016x}",
        parent_span_id=f"{4:016x}",
        name="SELECT",
        service="shop",
        start_ns=T0,
        duration_ns=MS,
        kind=SpanKind.CLIENT,
        attributes={"db.system": "postgresql"},
    )
    await rig.send(db, span(KEPT_ID, 4, kind=SpanKind.SERVER))
    assert rig.sampler.waiting_traces == 0


async def test_slow_traces_are_kept() -> None:
    sampling = TailSamplingConfig(
        policies=(
            ConfiguredPolicy("slow", "latency", Params(threshold_s=1.0)),
            ConfiguredPolicy("probabilistic", "probabilistic", Params(rate=0.01)),
        ),
        quiet_period_s=60.0,
    )
    rig = Rig(sampling)
    await rig.send(span(DROPPED_ID, 1, duration_ms=1500))
    fast = DROPPED_ID[:-1] + "2"
    await rig.send(span(fast, 1, duration_ms=900))
    assert policies(await rig.stored()) == {DROPPED_ID: "slow"}


async def test_the_rate_is_honoured_and_adjusted_counts_stay_true() -> None:
    rig = Rig(sampler_config(0.1))
    rng = np.random.default_rng(11)
    total = 4000
    ids = [
        f"{int(a):016x}{int(b):016x}"
        for a, b in rng.integers(0, 2**64, size=(total, 2), dtype=np.uint64)
    ]
    for start in range(0, total, 100):  # 100 complete two-span traces per record
        spans = []
        for trace_id in ids[start : start + 100]:
            spans += [
                span(trace_id, 2, parent=1, trace_state="ot=th:8"),
                span(trace_id, 1, trace_state="ot=th:8"),
            ]
        await rig.send(*spans)
    stored = await rig.stored()
    kept = len(set(stored["TraceId"].to_pylist()))
    assert abs(kept / total - 0.1) < 0.02, kept
    # Head-sampled at 1/2 (th:8), kept by the tail at 1/10: probability 1/20.
    assert set(stored["TraceState"].to_pylist()) == {"ot=th:f3333333333333"}
    assert stored.num_rows == 2 * kept  # whole traces


async def test_late_spans_follow_the_decision() -> None:
    rig = Rig(sampler_config())
    await rig.send(span(KEPT_ID, 1), span(DROPPED_ID, 1))  # both complete: decided
    await rig.send(span(KEPT_ID, 7, parent=1), span(DROPPED_ID, 7, parent=1, error=True))
    stored = await rig.stored()
    assert sorted(stored["TraceId"].to_pylist()) == [KEPT_ID, KEPT_ID]
    assert policies(stored) == {KEPT_ID: "probabilistic"}
    assert (
        rig.count("breadcrumbs_tail_sampling_spans_total", decision="dropped", policy="none") == 2
    )


async def test_a_quiet_trace_is_decided_after_the_quiet_period() -> None:
    rig = Rig(sampler_config(quiet_period_s=5.0))
    rig.sampler.start()
    try:
        # Its call to an uninstrumented service never gets a server side: it waits.
        await rig.send(span(KEPT_ID, 2, parent=1, kind=SpanKind.CLIENT), span(KEPT_ID, 1))
        await asyncio.sleep(0.3)  # several ticks of the sampler's timer
        assert rig.sampler.waiting_traces == 1
        assert rig.pending_from() == 1
        rig.clock.now += 5.0
        await eventually(lambda: rig.sampler.waiting_traces == 0)
        assert policies(await rig.stored()) == {KEPT_ID: "probabilistic"}
        assert rig.pending_from() is None
        assert rig.releases >= 1
        assert rig.count("breadcrumbs_tail_sampling_decisions_total", trigger="quiet") == 1
    finally:
        await rig.sampler.stop()


async def test_records_are_handed_on_in_order_once_decided() -> None:
    rig = Rig(sampler_config())
    await rig.send(span(KEPT_ID, 2, parent=1))  # record 1: waits for its root
    await rig.send(span(DROPPED_ID, 1, error=True))  # record 2: decided at once
    assert rig.pending_from() == 1
    assert (await rig.stored()).num_rows == 0  # held behind record 1
    await rig.send(span(KEPT_ID, 1))  # record 3 completes record 1's trace
    assert rig.pending_from() is None
    assert sorted(policies(await rig.stored()).values()) == ["error", "probabilistic"]
    assert rig.store.sequence == 3


async def test_memory_is_bounded_by_deciding_the_oldest_early() -> None:
    rig = Rig(sampler_config(max_traces=10))
    for n in range(50):
        await rig.send(span(f"{n + 1:032x}", 2, parent=1))  # rootless: would wait 60 s
        assert rig.sampler.waiting_traces <= 10
    waiting = rig.sampler.waiting_traces
    assert (
        rig.count("breadcrumbs_tail_sampling_decisions_total", trigger="overflow") == 50 - waiting
    )
    assert rig.sampler.pending_from == 51 - waiting  # the oldest were decided and handed on


async def test_held_spans_are_bounded() -> None:
    rig = Rig(sampler_config(max_spans=100))
    for n in range(20):
        await rig.send(*(span(f"{n + 1:032x}", i + 2, parent=1) for i in range(30)))
        assert rig.sampler.buffered_spans <= 130
    assert rig.count("breadcrumbs_tail_sampling_decisions_total", trigger="overflow") > 0


async def test_the_decision_memory_is_bounded() -> None:
    rig = Rig(sampler_config(decision_memory=5))
    for n in range(20):
        await rig.send(span(f"{n + 1:032x}", 1))
    assert rig.sampler.remembered_decisions == 5
    assert rig.count("breadcrumbs_tail_sampling_forgotten_decisions_total") == 15


async def test_a_trace_linked_from_a_kept_trace_is_kept() -> None:
    rig = Rig(sampler_config())
    waiting = DROPPED_ID[:-1] + "2"
    unseen = DROPPED_ID[:-1] + "3"
    await rig.send(span(waiting, 5, parent=4))  # rootless: waits
    links = [
        Link(trace_id=waiting, span_id=f"{5:016x}"),
        Link(trace_id=unseen, span_id=f"{9:016x}"),
    ]
    await rig.send(span(DROPPED_ID, 1, error=True, links=links))
    await rig.send(span(unseen, 9))  # arrives after the decision
    assert policies(await rig.stored()) == {
        DROPPED_ID: "error",
        waiting: "linked",
        unseen: "linked",
    }
    assert (
        rig.count("breadcrumbs_tail_sampling_traces_total", decision="kept", policy="linked") == 2
    )


async def test_flush_decides_everything_waiting() -> None:
    rig = Rig(sampler_config())
    await rig.send(span(KEPT_ID, 2, parent=1), span(DROPPED_ID, 2, parent=1))
    await rig.sampler.flush()
    assert rig.sampler.waiting_traces == 0
    assert rig.pending_from() is None
    assert set(policies(await rig.stored())) == {KEPT_ID}
    assert rig.count("breadcrumbs_tail_sampling_decisions_total", trigger="flush") == 2


async def test_through_the_pipeline_the_wal_is_released_after_decisions(tmp_path: Path) -> None:
    store = MemoryStore()
    sampler = TailSampler(sampler_config())
    settings = PipelineSettings(flush_spans=1, flush_interval_s=0.01, segment_bytes=1)
    pipeline = IngestPipeline(tmp_path, store, settings, SelfMetrics(), stages=[sampler])
    await pipeline.start()
    try:
        await pipeline.consume(batch_from_spans([span(KEPT_ID, 2, parent=1)]))
        await pipeline.consume(batch_from_spans([span(DROPPED_ID, 1, error=True)]))
        await eventually(lambda: store.sequence == 0 and sampler.pending_from == 1)
        # Record 1 waits for a decision: its segment stays, and record 2's with it.
        assert sampler.pending_from == 1
        assert pipeline.wal.segment_count >= 2
        await pipeline.consume(batch_from_spans([span(KEPT_ID, 1)]))
        await eventually(lambda: store.sequence == 3)
    finally:
        await pipeline.stop()
    assert sorted(policies(store.all()).values()) == ["error", "probabilistic"]


def test_the_attribute_is_added_to_sliced_and_empty_maps() -> None:
    batch = concat_batches(
        [
            batch_from_spans([span(KEPT_ID, n) for n in range(1, 4)]),
            batch_from_spans([span(KEPT_ID, 9)]),
        ]
    ).slice(1, 3)
    labelled = with_attribute(batch, "k", pa.array(["a", "b", "c"]))
    rows = [
        decode_attributes(e, c)
        for e, c in zip(
            labelled["SpanAttributes"].to_pylist(),
            labelled["SpanAttributeTypes"].to_pylist(),
            strict=True,
        )
    ]
    assert rows == [{"n": 2, "k": "a"}, {"n": 3, "k": "b"}, {"n": 9, "k": "c"}]
    assert pc.all(pc.equal(labelled["SpanId"], batch["SpanId"])).as_py()


async def test_sigkill_loses_no_kept_trace_and_stores_none_twice(tmp_path: Path) -> None:
    acked = [int(words[0]) for words in acks_then_sigkill("sampled", tmp_path, 600)]

    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        pipeline = IngestPipeline(
            tmp_path, store, PipelineSettings(), SelfMetrics(), stages=sampled_stages(store)
        )
        await pipeline.start()  # replays and decides again what the store does not hold
        await pipeline.stop()
        last = {tag // MAX_BATCHES: tag % MAX_BATCHES for tag in sorted(acked)}
        candidates = [
            p * MAX_BATCHES + i for p, top in last.items() for i in range(top + PRODUCERS + 1)
        ]
        spans = await store.get_traces(
            GetTracesParams(tuple(sampled_trace_id(tag) for tag in candidates))
        )
        assert spans.num_rows == (await store.stats()).spans  # nothing else in the store
        stored = spans["SpanName"].to_pylist()
        assert len(stored) == len(set(stored))  # no span twice

        def kept(tag: int) -> bool:  # the policies, asked directly
            batch = make_trace_batch(tag)
            random = trace_randomness(batch["TraceId"].slice(0, 1))[0]
            return tag % 7 == 0 or random < SAMPLED_RATE * 2**56

        expected = {
            n
            for tag in acked
            if kept(tag)
            for n in make_trace_batch(tag, 1 + tag % 7)["SpanName"].to_pylist()
        }
        assert expected <= set(stored)  # every acked span of a kept trace
        dropped = {
            n
            for tag in candidates
            if not kept(tag)
            for n in make_trace_batch(tag, 1 + tag % 7)["SpanName"].to_pylist()
        }
        assert not dropped & set(stored)
        assert 0.3 < len({t for t in acked if kept(t)}) / len(acked) < 0.75
    finally:
        await store.close()


async def test_a_rootless_trace_is_dropped_only_at_max_wait() -> None:
    rig = Rig(sampler_config(quiet_period_s=1.0, max_wait_s=10.0))
    rig.sampler.start()
    try:
        await rig.send(span(DROPPED_ID, 2, parent=1))
        rig.clock.now += 2.0
        await asyncio.sleep(0.3)  # several ticks: quiet, but its root may still come
        assert rig.sampler.waiting_traces == 1
        await rig.send(span(DROPPED_ID, 1, error=True))  # the root, late and failed
        assert policies(await rig.stored()) == {DROPPED_ID: "error"}

        other = DROPPED_ID[:-1] + "2"
        await rig.send(span(other, 2, parent=1))
        rig.clock.now += 10.0
        await eventually(lambda: rig.sampler.waiting_traces == 0)
        assert rig.count("breadcrumbs_tail_sampling_decisions_total", trigger="max_wait") == 1
        assert (
            rig.count("breadcrumbs_tail_sampling_traces_total", decision="dropped", policy="none")
            == 1
        )
    finally:
        await rig.sampler.stop()
