"""The root throughput stage: root spans weighted by their adjusted counts, per operation,
handed to the adaptive rates; old spans (a replay) left out; every batch passed on."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from breadcrumbs.model import Span, batch_from_spans
from breadcrumbs.pipeline.root_throughput import RootThroughputStage
from breadcrumbs.sampling.adaptive import AdaptiveRates, AdaptiveSettings
from breadcrumbs.sampling.adjusted_count import adjusted_count


def _span(
    number: int, parent: int | None, name: str, trace_state: str = "", age_s: float = 0
) -> Span:
    return Span(
        trace_id=f"{number:032x}",
        span_id=f"{number:016x}",
        parent_span_id="" if parent is None else f"{parent:016x}",
        name=name,
        service="shop",
        start_ns=time.time_ns() - int(age_s * 1e9),
        duration_ns=1000,
        trace_state=trace_state,
    )


def test_the_roots_weights_read_the_threshold() -> None:
    states = pa.chunked_array(
        [
            ["ot=th:8", "", "vendor=x,ot=rv:00112233445566;th:c", "ot=th:0"],
            ["ot=th:zz", "ot=th:e666", "other=th:8"],
        ]
    )
    assert adjusted_count(states).to_pylist() == pytest.approx(
        [2.0, 1.0, 4.0, 1.0, 1.0, 1 / (1 - 0xE666 / 0x10000), 1.0]
    )


class Downstream:
    name = "sink"
    downstream = None
    on_release = None

    def __init__(self) -> None:
        self.sequences: list[int] = []

    async def consume(self, batch: pa.Table, *, wal_sequence: int) -> None:
        self.sequences.append(wal_sequence)


async def test_counts_weighted_roots_per_operation_and_passes_every_batch_on() -> None:
    rates = AdaptiveRates(AdaptiveSettings(target_tps=1.0))
    stage = RootThroughputStage(rates, interval_s=60, max_age_s=120)
    sink = Downstream()
    stage.downstream = sink  # type: ignore[assignment]
    spans = [
        _span(1, None, "GET /menu", "ot=th:8"),  # p = 1/2: stands for 2 requests
        _span(2, 1, "db"),  # not a root: not a request
        _span(3, None, "GET /menu", "ot=th:c"),  # p = 1/4: 4
        _span(4, None, "POST /order"),  # no threshold: 1
        _span(5, None, "GET /menu", "ot=th:8", age_s=600),  # replayed from long ago: left out
    ]
    await stage.consume(batch_from_spans(spans), wal_sequence=7)
    assert sink.sequences == [7]
    assert stage.pending_from is None
    assert stage.buffered_spans == 0
    assert dict(stage._sums) == {("shop", "GET /menu"): 6.0, ("shop", "POST /order"): 1.0}
    stage.recompute(now=stage._since + 2.0)  # two seconds' worth
    assert rates.probability("shop", "GET /menu") == pytest.approx(1 / 3, rel=0.05)
    assert rates.probability("shop", "POST /order") == 1.0
    assert not stage._sums
