"""Analyses over many traces: search, read the traces in batches, reduce each batch with a
pure function of ``analysis/``, combine. Memory stays bounded by one batch of spans plus the
reduced rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.analysis.aggregate import (
    PATH_ROWS_SCHEMA,
    CriticalPathAggregate,
    aggregate_rows,
    path_rows,
)
from breadcrumbs.query.critical_path_params import CriticalPathParams
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.base import GetTracesParams

TRACES_PER_BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class AggregateResult:
    selection: CriticalPathAggregate
    baseline: CriticalPathAggregate | None
    matched: int
    cap: int
    threshold_ns: int | None
    query_json: dict[str, Any]

    @property
    def capped(self) -> bool:
        """The search found as many traces as asked for: older ones were left out."""
        return self.matched >= self.cap


async def path_rows_of(query: QueryService, trace_ids: list[str]) -> pa.Table:
    """``analysis.aggregate.path_rows`` of the given traces, read in batches."""
    parts = [PATH_ROWS_SCHEMA.empty_table()]
    for i in range(0, len(trace_ids), TRACES_PER_BATCH):
        batch = await query.reader.get_traces(
            GetTracesParams(tuple(trace_ids[i : i + TRACES_PER_BATCH]))
        )
        parts.append(await query.compute(path_rows, batch))
    return pa.concat_tables(parts)


async def aggregate_over_search(query: QueryService, params: CriticalPathParams) -> AggregateResult:
    search = params.query
    trace_ids = await query.reader.find_trace_ids(search)
    rows = await path_rows_of(query, trace_ids)
    threshold = params.slower_than_ns
    upper = None if params.percentile is not None else params.faster_than_ns
    if params.percentile is not None and rows.num_rows:
        per_trace = rows.group_by("TraceId").aggregate([("RootNs", "max")])
        durations = per_trace.column("RootNs_max").to_numpy()
        threshold = int(np.percentile(durations, params.percentile))
    query_json: dict[str, Any] = {
        "service": search.service,
        "operation": search.operation,
        "startNs": search.start_ns,
        "endNs": search.end_ns,
        "limit": search.limit,
        "slowerThanNs": params.slower_than_ns,
        "fasterThanNs": params.faster_than_ns,
        "percentile": params.percentile,
    }
    if threshold is None and upper is None:
        return AggregateResult(
            aggregate_rows(rows),
            None,
            len(trace_ids),
            search.limit,
            None,
            query_json,
        )
    # The same band as the store's selection: [threshold, upper), either edge open.
    durations = rows.column("RootNs")
    slow = pa.array(np.ones(rows.num_rows, dtype=bool))
    if threshold is not None:
        slow = pc.and_(slow, pc.greater_equal(durations, threshold))
    if upper is not None:
        slow = pc.and_(slow, pc.less(durations, upper))
    return AggregateResult(
        selection=aggregate_rows(rows.filter(slow)),
        baseline=aggregate_rows(rows.filter(pc.invert(slow))),
        matched=len(trace_ids),
        cap=search.limit,
        threshold_ns=threshold,
        query_json=query_json,
    )
