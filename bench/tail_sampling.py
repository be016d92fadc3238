"""The tail sampler's cost: CPU per million spans and memory with 100k spans/s of traces in
flight, against a pass-through stage in the same run (the floor).

    python bench/tail_sampling.py --spans 1000000 --rate 100000

Realistic spans from ``gen.py`` (a world of ~20 services, databases, an uninstrumented
payment provider, 2% errors) arrive as an exporter sends them: ordered by when each span ends,
in records of ``--record`` spans, at ``--rate`` spans/s of *simulated* time: the sampler's
clock (quiet periods, max_wait) and its timer ticks follow the arrival times, while the records
are handed on as fast as the CPU allows, so the memory figures are those of that rate even on
a slower (or shared) machine. Each run hands the records, in order, to a stage whose downstream
counts what it is given: first the pass-through floor, then the tail sampler with
``--tail-sampling-rate`` (errors, slow traces and that share of the rest). CPU is the process's
CPU time over the run; the sampler's own cost is its run's minus the floor's. Memory: the spans
and Arrow bytes the sampler holds (peak, sampled after every record), the traces waiting, and
the decisions remembered.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).parent))
from breadcrumbs.model import SpanBatch, concat_batches
from breadcrumbs.pipeline.stages import OnRelease, Stage
from breadcrumbs.pipeline.tail_sampler import TailSampler
from breadcrumbs.sampling.tail.config import for_rate
from breadcrumbs.sampling.tail.metrics import TailSamplingMetrics
from gen import Generator


class Counter:
    """The end of the chain: counts spans and traces handed on."""

    name = "counter"

    def __init__(self) -> None:
        self.downstream: Stage | None = None
        self.on_release: OnRelease | None = None
        self.spans = 0
        self.trace_ids: set[str] = set()

    pending_from: int | None = None
    buffered_spans = 0

    async def open(self) -> int:
        return 0

    async def consume(self, batch: SpanBatch, *, wal_sequence: int) -> None:
        self.spans += batch.num_rows
        self.trace_ids.update(pc.unique(batch.column("TraceId")).to_pylist())

    async def flush(self) -> None:
        pass

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class PassThrough:
    """The floor: a stage that forwards every record at once."""

    def __init__(self, downstream: Counter) -> None:
        self.downstream = downstream
        self.buffered_spans = 0
        self.buffered_bytes = 0
        self.waiting_traces = 0
        self.remembered_decisions = 0

    async def consume(self, batch: SpanBatch, *, wal_sequence: int) -> None:
        await self.downstream.consume(batch, wal_sequence=wal_sequence)

    async def stop(self) -> None:
        pass


@dataclass
class Result:
    cpu_s: float
    wall_s: float
    spans_in: int
    spans_out: int
    traces_out: int
    peak_spans: int = 0
    peak_bytes: int = 0
    peak_traces: int = 0
    peak_decisions: int = 0
    peak_rss_mib: float = 0.0


def records(spans: int, record: int) -> list[SpanBatch]:
    """``spans`` generated spans in the order they end, cut into records (own buffers each)."""
    generated = concat_batches(list(Generator(spans_per_second=100_000).batches(spans)))
    ends = pc.add(generated.column("Timestamp"), generated.column("Duration"))
    ordered = generated.take(pc.sort_indices(ends))
    return [
        ordered.slice(start, record)
        .combine_chunks()
        .take(pa.array(range(min(record, ordered.num_rows - start))))
        for start in range(0, ordered.num_rows, record)
    ]


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def run(
    stage: TailSampler | PassThrough,
    sink: Counter,
    batches: list[SpanBatch],
    rate: float,
    clock: SimulatedClock,
) -> Result:
    """Records arrive at ``rate`` spans/s of simulated time (the sampler's clock), handed on
    as fast as the CPU allows; the sampler's timer ticks every ``tick_s`` of that time."""
    tick_s = stage.tick_s if isinstance(stage, TailSampler) else 0.1
    began_cpu = time.process_time()
    began = time.perf_counter()
    result = Result(0.0, 0.0, 0, 0, 0)
    sent = 0
    next_tick = tick_s
    for sequence, batch in enumerate(batches, start=1):
        clock.now = sent / rate
        while clock.now >= next_tick:
            if isinstance(stage, TailSampler):
                await stage.tick()
            next_tick += tick_s
        await stage.consume(batch, wal_sequence=sequence)
        sent += batch.num_rows
        result.peak_spans = max(result.peak_spans, stage.buffered_spans)
        result.peak_bytes = max(result.peak_bytes, stage.buffered_bytes)
        result.peak_traces = max(result.peak_traces, stage.waiting_traces)
        result.peak_decisions = max(result.peak_decisions, stage.remembered_decisions)
    await stage.stop()
    result.cpu_s = time.process_time() - began_cpu
    result.wall_s = time.perf_counter() - began
    result.spans_in = sent
    result.spans_out = sink.spans
    result.traces_out = len(sink.trace_ids)
    result.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=100_000, help="spans per second")
    parser.add_argument("--record", type=int, default=1_000, help="spans per WAL record")
    parser.add_argument("--tail-sampling-rate", type=float, default=0.1)
    args = parser.parse_args()
    batches = records(args.spans, args.record)
    traces = len(pc.unique(concat_batches(batches).column("TraceId")))
    print(
        f"{sum(b.num_rows for b in batches):,} spans, {traces:,} traces, {len(batches):,} records"
    )

    floor_sink = Counter()
    floor = await run(PassThrough(floor_sink), floor_sink, batches, args.rate, SimulatedClock())
    sink = Counter()
    registry = CollectorRegistry()
    clock = SimulatedClock()
    sampler = TailSampler(
        for_rate(args.tail_sampling_rate), metrics=TailSamplingMetrics(registry), clock=clock
    )
    sampler.downstream = sink
    sampled = await run(sampler, sink, batches, args.rate, clock)

    million = floor.spans_in / 1e6
    print(f"{'':24}{'pass-through':>16}{'tail sampler':>16}")
    for label, a, b in [
        (
            "processed spans/s (wall)",
            f"{floor.spans_in / floor.wall_s:,.0f}",
            f"{sampled.spans_in / sampled.wall_s:,.0f}",
        ),
        ("CPU s per 1M spans", f"{floor.cpu_s / million:.2f}", f"{sampled.cpu_s / million:.2f}"),
        ("spans handed on", f"{floor.spans_out:,}", f"{sampled.spans_out:,}"),
        ("traces handed on", f"{floor.traces_out:,}", f"{sampled.traces_out:,}"),
        ("peak spans held", "0", f"{sampled.peak_spans:,}"),
        ("peak MiB held (Arrow)", "0", f"{sampled.peak_bytes / 2**20:,.0f}"),
        ("peak traces waiting", "0", f"{sampled.peak_traces:,}"),
        ("peak decisions kept", "0", f"{sampled.peak_decisions:,}"),
        ("process peak RSS MiB", f"{floor.peak_rss_mib:,.0f}", f"{sampled.peak_rss_mib:,.0f}"),
    ]:
        print(f"{label:24}{a:>16}{b:>16}")
    extra = (sampled.cpu_s - floor.cpu_s) / million
    print(
        f"tail sampler: {extra:.2f} CPU s per 1M spans above the floor "
        f"({sampled.cpu_s / floor.cpu_s:.1f}x the pass-through run), "
        f"{sampled.spans_out / sampled.spans_in:.1%} of spans and "
        f"{sampled.traces_out / traces:.1%} of traces kept"
    )
    kept = {
        sample.labels["policy"]: int(sample.value)
        for metric in registry.collect()
        if metric.name == "breadcrumbs_tail_sampling_traces"
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    print("traces by policy:", ", ".join(f"{k} {v:,}" for k, v in sorted(kept.items())))


if __name__ == "__main__":
    asyncio.run(main())
