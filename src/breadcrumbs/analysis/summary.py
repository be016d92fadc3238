"""The shape of a trace in a few numbers: spans, services, depth, fan-out, errors, roots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from breadcrumbs.analysis.tree import TraceTree


@dataclass(frozen=True, slots=True)
class ServiceCount:
    name: str
    spans: int
    errors: int


@dataclass(frozen=True, slots=True)
class SpanRef:
    span_id: str
    service: str
    name: str


@dataclass(frozen=True, slots=True)
class Summary:
    span_count: int
    start_ns: int
    duration_ns: int
    depth: int
    max_fan_out: int
    error_count: int
    root_count: int
    orphan_count: int
    """Spans whose parent is named but was never stored (counted among the roots)."""
    root: SpanRef | None
    services: tuple[ServiceCount, ...]


def summarise(tree: TraceTree) -> Summary:
    if tree.size == 0:
        return Summary(0, 0, 0, 0, 0, 0, 0, 0, None, ())
    spans = np.bincount(tree.service, minlength=len(tree.services))
    errors = np.bincount(tree.service, weights=tree.error, minlength=len(tree.services))
    services = sorted(
        (
            ServiceCount(name, int(spans[i]), int(errors[i]))
            for i, name in enumerate(tree.services)
            if spans[i]
        ),
        key=lambda s: (-s.spans, s.name),
    )
    main = tree.main_root()
    start = int(tree.start.min())
    return Summary(
        span_count=tree.size,
        start_ns=start,
        duration_ns=int(tree.end.max()) - start,
        depth=int(tree.depths().max()),
        max_fan_out=int(tree.child_count().max()),
        error_count=int(np.count_nonzero(tree.error)),
        root_count=len(tree.roots()),
        orphan_count=int(np.count_nonzero(tree.parent_missing)),
        root=None if main is None else SpanRef(tree.span_id(main), *tree.label(main)),
        services=tuple(services),
    )
