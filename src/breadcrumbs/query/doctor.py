"""The trace doctor's query side: the window from API parameters, the store's aggregates for
it as ``analysis.doctor.Evidence``, and the findings.

Parameters: ``lookback`` (``1h`` default; Go durations, ``2d``, ``1w``), or ``start`` and
``end`` in ns since the epoch (``end`` defaults to now, ``start`` to ``end - lookback``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from breadcrumbs.analysis.doctor import ID_PATTERN, Evidence, Finding, diagnose
from breadcrumbs.errors import BadInput
from breadcrumbs.query.jaeger_params import parse_lookback
from breadcrumbs.query.params import NS_PER_S, Params, first, parse_int
from breadcrumbs.store.base import DoctorWindow, SpanReader

DEFAULT_LOOKBACK_NS: Final = 3600 * NS_PER_S
MAX_WINDOW_NS: Final = 31 * 24 * 3600 * NS_PER_S
MAX_ROWS: Final = 5_000


def parse_window(params: Params, now_ns: int) -> tuple[int, int]:
    """(start_ns, end_ns) of the window to diagnose, or BadInput naming the parameter."""
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
    return start_ns, end_ns


@dataclass(frozen=True, slots=True)
class Diagnosis:
    window: DoctorWindow
    findings: list[Finding]
    spans: int
    """Spans in the window (every one of them is in the aggregates)."""
    truncated: frozenset[str]
    """Reads that hit ``max_rows`` (their smallest groups were not seen)."""


async def gather_evidence(
    reader: SpanReader, window: DoctorWindow, *, value_limit: int
) -> Evidence:
    """The store's doctor reads over ``window``, as the checks' evidence."""
    # One read at a time: each scans the window, and side by side on a small machine they
    # would only make ingest wait.
    tables = {}
    for name, read in (
        ("operations", reader.operation_profile),
        ("parents", reader.parent_profile),
        ("calls", reader.call_profile),
        ("roots", reader.root_profile),
        ("attributes", reader.attribute_profile),
    ):
        tables[name] = await read(window)
    return Evidence.from_tables(
        window.start_ns, window.end_ns, tables, value_limit=value_limit, max_rows=window.max_rows
    )


async def diagnose_window(
    reader: SpanReader, start_ns: int, end_ns: int, *, value_limit: int
) -> Diagnosis:
    window = DoctorWindow(start_ns, end_ns, ID_PATTERN, max_rows=MAX_ROWS)
    evidence = await gather_evidence(reader, window, value_limit=value_limit)
    return Diagnosis(window, diagnose(evidence), evidence.spans(), evidence.truncated)
