"""Comparing span batches field by field, whatever order a store returns them in."""

from __future__ import annotations

from typing import Any

from breadcrumbs.model import SpanBatch, concat_batches


def rows(*batches: SpanBatch) -> list[dict[str, Any]]:
    """Every span as a dict of every column, sorted by trace and span id (then start, so
    stored copies of one span sort together)."""
    batch = concat_batches(list(batches))
    ordered = batch.sort_by(
        [("TraceId", "ascending"), ("SpanId", "ascending"), ("Timestamp", "ascending")]
    )
    found: list[dict[str, Any]] = ordered.to_pylist()
    return found
