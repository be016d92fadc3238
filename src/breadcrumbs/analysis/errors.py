"""Where a trace's errors started, how far they travelled, and which were retried.

- An *origin* is an error span none of whose children is an error: nothing below it
  explains it, so the fault is there. Its exception comes from its ``exception`` events
  (OpenTelemetry semantic conventions: ``exception.type``, ``exception.message``,
  ``exception.stacktrace``), the frame is the innermost one of the stack trace.
- Its *chain* is every ancestor up to the root; ``propagated`` says the error reached the top
  through error spans only, ``handled_by`` names the first ancestor that was fine.
- *Handled* errors: an error span whose parent is not an error (someone coped with it).
- *Retries*: one operation (service, name, kind) repeated under one parent, with a failed
  attempt followed by another attempt (a loop of successful calls is not a retry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa

from breadcrumbs.analysis.tree import NO_PARENT, TraceTree

MAX_ORIGINS: Final = 50
_STATUS_KEYS: Final = ("http.response.status_code", "http.status_code", "rpc.grpc.status_code")
EXCEPTION_EVENT: Final = "exception"

# Innermost frame of a stack trace, per language: Python lists it last, the JVM, .NET,
# JavaScript and Go list it first.
_PYTHON_FRAME = re.compile(
    r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)', re.M
)
_LIBRARY_PATH = re.compile(r"/lib/python[0-9.]+/|site-packages/|dist-packages/|^<frozen ")
_AT_FRAME = re.compile(r"^\s*at (?P<frame>\S.*)$", re.M)


def innermost_frame(stacktrace: str | None) -> str | None:
    """``per_item_charge (payment.py:21)`` for a Python trace (the innermost frame outside the
    standard library and installed packages, when there is one); the first ``at ...`` line for
    the JVM, .NET and JavaScript; None when the text has no frame we can read."""
    if not stacktrace:
        return None
    python = list(_PYTHON_FRAME.finditer(stacktrace))
    if python:
        # the innermost frame of the application's own code, not of a library it called
        own = [f for f in python if not _LIBRARY_PATH.search(f["file"].replace("\\", "/"))]
        last = (own or python)[-1]
        file = last["file"].replace("\\", "/").rsplit("/", 1)[-1]
        return f"{last['func']} ({file}:{last['line']})"
    at = _AT_FRAME.search(stacktrace)
    return at["frame"].strip() if at else None


@dataclass(frozen=True, slots=True)
class ChainSpan:
    span_id: str
    service: str
    name: str
    error: bool
    status_message: str | None
    status_code: str | None
    """The response status the span recorded (HTTP, gRPC), as text: ``502``."""


@dataclass(frozen=True, slots=True)
class ErrorOrigin:
    span_id: str
    service: str
    name: str
    start_ns: int
    exception_type: str | None
    message: str | None
    frame: str | None
    stacktrace: str | None
    status_message: str | None
    chain: tuple[str, ...]
    """Span ids from the origin up to the root, origin first."""
    chain_spans: tuple[ChainSpan, ...]
    """The same spans, described."""
    propagated: bool
    """Every span of the chain is an error: the failure reached the top."""
    handled_by: str | None
    """The first ancestor that is not an error (the error stopped there)."""


@dataclass(frozen=True, slots=True)
class HandledError:
    span_id: str
    handled_by: str
    service: str
    name: str
    handled_by_service: str
    handled_by_name: str


@dataclass(frozen=True, slots=True)
class Retry:
    parent_span_id: str
    parent_service: str
    parent_name: str
    service: str
    name: str
    attempts: int
    failed: int
    span_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ErrorAnalysis:
    origins: tuple[ErrorOrigin, ...]
    handled: tuple[HandledError, ...]
    retries: tuple[Retry, ...]
    origins_total: int
    """Origins found; only the first ``MAX_ORIGINS`` are described."""


def _exception(events: list[dict[str, Any]]) -> dict[str, str]:
    """Attributes of the last ``exception`` event (the one that ended the span)."""
    for event in reversed(events):
        if event["Name"] == EXCEPTION_EVENT:
            return {str(k): str(v) for k, v in event["Attributes"]}
    return {}


def _origins(tree: TraceTree) -> tuple[list[ErrorOrigin], int]:
    error = tree.error
    explained = np.zeros(tree.size, dtype=bool)
    with_error_parent = np.flatnonzero(error & (tree.parent != NO_PARENT))
    explained[tree.parent[with_error_parent]] = True
    rows = np.flatnonzero(error & ~explained)
    total = len(rows)
    if total == 0:
        return [], 0
    described: list[tuple[int, list[int], bool, int | None]] = []
    for row in (int(r) for r in rows):
        chain = tree.ancestors(row)
        ok = next((a for a in chain if not error[a]), None)
        described.append((row, chain, ok is None, ok))
    # Failures that reached the top first, then in start order.
    described.sort(key=lambda d: (not d[2], int(tree.start[d[0]])))
    described = described[:MAX_ORIGINS]
    taken = pa.array([d[0] for d in described], pa.int64())
    events = tree.spans.column("Events").take(taken).to_pylist()
    statuses = tree.spans.column("StatusMessage").take(taken).to_pylist()
    in_chains = sorted({r for d in described for r in [d[0], *d[1]]})
    chain_rows = pa.array(in_chains, pa.int64())
    chain_messages = dict(
        zip(in_chains, tree.spans.column("StatusMessage").take(chain_rows).to_pylist(), strict=True)
    )
    chain_attributes = dict(
        zip(
            in_chains, tree.spans.column("SpanAttributes").take(chain_rows).to_pylist(), strict=True
        )
    )

    def chain_span(row: int) -> ChainSpan:
        service, name = tree.label(row)
        attributes = dict(chain_attributes.get(row) or ())
        code = next((attributes[k] for k in _STATUS_KEYS if attributes.get(k)), None)
        return ChainSpan(
            tree.span_id(row),
            service,
            name,
            bool(error[row]),
            chain_messages.get(row) or None,
            None if code is None else str(code),
        )

    origins = []
    for (row, chain, propagated, ok), evs, status in zip(described, events, statuses, strict=True):
        exception = _exception(evs)
        stacktrace = exception.get("exception.stacktrace")
        service, name = tree.label(row)
        origins.append(
            ErrorOrigin(
                span_id=tree.span_id(row),
                service=service,
                name=name,
                start_ns=int(tree.start[row]),
                exception_type=exception.get("exception.type"),
                message=exception.get("exception.message") or status or None,
                frame=innermost_frame(stacktrace),
                stacktrace=stacktrace,
                status_message=status or None,
                chain=tuple(tree.span_id(r) for r in [row, *chain]),
                chain_spans=tuple(chain_span(r) for r in [row, *chain]),
                propagated=propagated,
                handled_by=None if ok is None else tree.span_id(ok),
            )
        )
    return origins, total


def _handled(tree: TraceTree) -> list[HandledError]:
    rows = np.flatnonzero(tree.error & (tree.parent != NO_PARENT))
    rows = rows[~tree.error[tree.parent[rows]]]
    rows = rows[np.argsort(tree.start[rows], kind="stable")]
    handled = []
    for row in (int(r) for r in rows[:MAX_ORIGINS]):
        parent = int(tree.parent[row])
        handled.append(
            HandledError(
                tree.span_id(row), tree.span_id(parent), *tree.label(row), *tree.label(parent)
            )
        )
    return handled


def _retries(tree: TraceTree) -> list[Retry]:
    rows = np.flatnonzero(tree.parent != NO_PARENT)
    if len(rows) == 0:
        return []
    keys = (
        tree.start[rows],
        tree.kind[rows],
        tree.name[rows],
        tree.service[rows],
        tree.parent[rows],
    )
    rows = rows[np.lexsort(keys)]
    group = np.stack(
        [tree.parent[rows], tree.service[rows], tree.name[rows], tree.kind[rows]], axis=1
    )
    boundaries = np.flatnonzero(np.any(group[1:] != group[:-1], axis=1)) + 1
    starts = np.concatenate(([0], boundaries))
    sizes = np.diff(np.concatenate((starts, [len(rows)])))
    failed = np.add.reduceat(tree.error[rows].astype(np.int64), starts)
    retries = []
    for first, size, fails in zip(starts, sizes, failed, strict=True):
        if size < 2 or fails == 0:
            continue
        attempts = rows[first : first + size]
        if not tree.error[attempts[:-1]].any():
            continue  # only the last one failed: nothing was tried again
        service, name = tree.label(int(attempts[0]))
        parent = int(tree.parent[attempts[0]])
        parent_service, parent_name = tree.label(parent)
        retries.append(
            Retry(
                parent_span_id=tree.span_id(parent),
                parent_service=parent_service,
                parent_name=parent_name,
                service=service,
                name=name,
                attempts=int(size),
                failed=int(fails),
                span_ids=tuple(tree.span_id(int(r)) for r in attempts),
            )
        )
    return retries


def analyse_errors(tree: TraceTree) -> ErrorAnalysis:
    origins, total = _origins(tree)
    return ErrorAnalysis(
        origins=tuple(origins),
        handled=tuple(_handled(tree)),
        retries=tuple(_retries(tree)),
        origins_total=total,
    )
