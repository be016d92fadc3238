"""Tags the APIs show but nobody stores, turned back into the conditions they stand for.

The Jaeger model derives ``error``, ``otel.status_code`` and ``span.kind`` tags from a span's
status and kind (``codec/jaeger.py``), and Zipkin shows ``error`` the same way, so users search
for them: ``tags={"error":"true"}`` is the most common Jaeger search there is. The store holds
status and kind as columns, so each such tag becomes a column condition here, before the query
reaches the store. A derived tag whose value names nothing (``span.kind=sideways``) stays a tag
filter, which then matches nothing, as in Jaeger.
"""

from __future__ import annotations

from dataclasses import replace

from breadcrumbs.errors import BadInput
from breadcrumbs.model import SpanKind, StatusCode
from breadcrumbs.store.base import TagFilter, TraceQuery

_NOT_ERROR = (StatusCode.UNSET, StatusCode.OK)


def _status_codes(tag: TagFilter) -> tuple[StatusCode, ...] | None:
    value = tag.value.strip()
    if tag.key == "error":
        lowered = value.lower()
        if lowered == "true":
            return (StatusCode.ERROR,)
        return _NOT_ERROR if lowered == "false" else None
    try:  # otel.status_code
        return (StatusCode[value.upper()],)
    except KeyError:
        return None


def _span_kind(tag: TagFilter) -> SpanKind | None:
    try:
        return SpanKind.parse(tag.value)
    except BadInput:
        return None


def lift_derived_tags(query: TraceQuery) -> TraceQuery:
    """``query`` with ``error``/``otel.status_code``/``span.kind`` tags as column conditions."""
    kept: list[TagFilter] = []
    statuses = set(query.status_codes) if query.status_codes else None
    span_kind = query.span_kind
    for tag in query.tags:
        if tag.scope != "resource" and tag.key in ("error", "otel.status_code"):
            codes = _status_codes(tag)
            if codes is not None:
                statuses = set(codes) if statuses is None else statuses & set(codes)
                continue
        elif tag.scope != "resource" and tag.key == "span.kind":
            kind = _span_kind(tag)
            if kind is not None and span_kind in (None, kind):
                span_kind = kind
                continue
        kept.append(tag)
    if statuses is not None and not statuses:
        # Contradictory conditions (error=true and error=false): a tag no span carries.
        kept.append(TagFilter("error", "true and false", "span"))
    return replace(
        query,
        tags=tuple(kept),
        span_kind=span_kind,
        status_codes=tuple(sorted(statuses)) if statuses else (),
    )
