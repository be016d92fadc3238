"""The trace doctor's query side: the window from API parameters, the store's aggregates for
it as ``analysis.doctor.Evidence``, and the findings.

Parameters: ``lookback`` (``1h`` default; Go durations, ``2d``, ``1w``), or ``start`` and
``end`` in ns since the epoch (``end`` defaults to now, ``start`` to ``end - lookback``);
``settle`` (a Go duration, ``30s`` default): how long spans may take to arrive, so a span
younger than that is not yet judged for a missing parent or child.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

import pyarrow.compute as pc

from breadcrumbs.analysis.doctor import ID_PATTERN, Evidence, Finding, diagnose
from breadcrumbs.errors import BadInput
from breadcrumbs.query.jaeger_params import parse_go_duration, parse_lookback
from breadcrumbs.query.params import NS_PER_S, Params, first, parse_int
from breadcrumbs.store.base import DoctorWindow, SpanReader

DEFAULT_LOOKBACK_NS: Final = 3600 * NS_PER_S
MAX_WINDOW_NS: Final = 31 * 24 * 3600 * NS_PER_S
MAX_ROWS: Final = 5_000
ATTRIBUTE_SPANS: Final = 250_000
"""About how many spans' attributes are read (1 in n traces beyond; bench/README.md)."""
DEFAULT_SETTLE_NS: Final = 30 * NS_PER_S
MAX_SETTLE_NS: Final = 3600 * NS_PER_S


def parse_window(params: Params, now_ns: int) -> DoctorWindow:
    """The window to diagnose, or BadInput naming the parameter."""
    end_text, start_text = first(params, "end"), first(params, "start")
    end_ns = parse_int(end_text, "end", minimum=1) if end_text else now_ns
    if start_text:
        start_ns = parse_int(start_text, "start")
    else:
        lookback = parse_lookback(first(params, "lookback"))
        if lookback == 0:
            raise BadInput("unable to parse param 'lookback': must be more than 0")
        start_ns = max(0, end_ns - (DEFAULT_LOOKBACK_NS if lookback is None else lookback))
    if start_ns >= end_ns:
        raise BadInput("unable to parse params: 'start' must be before 'end'")
    if end_ns - start_ns > MAX_WINDOW_NS:
        raise BadInput("unable to parse params: the window may span at most 31 days")
    settle_text = first(params, "settle")
    settle_ns = parse_go_duration(settle_text, "settle") if settle_text else DEFAULT_SETTLE_NS
    if settle_ns > MAX_SETTLE_NS:
        raise BadInput("unable to parse param 'settle': at most 1h")
    return DoctorWindow(start_ns, end_ns, ID_PATTERN, settle_ns=settle_ns, max_rows=MAX_ROWS)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    window: DoctorWindow
    findings: list[Finding]
    spans: int
    """Spans in the window (every one of them is in the aggregates)."""
    truncated: frozenset[str]
    """Reads that hit ``max_rows`` (their smallest groups were not seen)."""
    attribute_traces: int
    """Attributes were read from about 1 in this many traces."""


async def gather_evidence(
    reader: SpanReader, window: DoctorWindow, *, value_limit: int
) -> Evidence:
    """The store's doctor reads over ``window``, as the checks' evidence."""
    # One read at a time: each scans the window, and side by side on a small machine they
    # would only make ingest wait.
    tables = {"operations": await reader.operation_profile(window)}
    spans = int(pc.sum(tables["operations"].column("Spans")).as_py() or 0)
    if window.attribute_traces == 1 and spans > ATTRIBUTE_SPANS:
        window = dataclasses.replace(window, attribute_traces=-(-spans // ATTRIBUTE_SPANS))
    for name, read in (
        ("parents", reader.parent_profile),
        ("calls", reader.call_profile),
        ("roots", reader.root_profile),
        ("attributes", reader.attribute_profile),
    ):
        tables[name] = await read(window)
    return Evidence.from_tables(
        window.start_ns,
        window.end_ns,
        tables,
        value_limit=value_limit,
        max_rows=window.max_rows,
        attribute_traces=window.attribute_traces,
    )


async def diagnose_window(
    reader: SpanReader, window: DoctorWindow, *, value_limit: int
) -> Diagnosis:
    evidence = await gather_evidence(reader, window, value_limit=value_limit)
    return Diagnosis(
        window, diagnose(evidence), evidence.spans(), evidence.truncated, evidence.attribute_traces
    )
