"""Trace ids as people type them: whole, or the first 8+ characters copied from a terminal."""

from __future__ import annotations

import re
from typing import Final

from breadcrumbs.errors import BadInput
from breadcrumbs.model import normalize_trace_id

MIN_TRACE_ID_PREFIX: Final = 8
_HEX: Final = re.compile(r"[0-9a-fA-F]+")


def parse_trace_id_or_prefix(text: str) -> tuple[str | None, str | None]:
    """(full trace id or None, lowercase prefix or None) of a trace id as typed: 32 hex is
    a full id; 16 hex is a Zipkin 64-bit id and also a prefix; 8-31 hex a prefix.
    ``BadInput`` for anything else."""
    cleaned = text.strip()
    if not (MIN_TRACE_ID_PREFIX <= len(cleaned) <= 32) or not _HEX.fullmatch(cleaned):
        raise BadInput(
            f"a trace id is 32 hex characters (or a prefix of {MIN_TRACE_ID_PREFIX} or more), "
            f"got {text[:64]!r}"
        )
    lowered = cleaned.lower()
    if len(lowered) == 32:
        return normalize_trace_id(lowered), None
    if len(lowered) == 16 and lowered.strip("0"):
        return normalize_trace_id(lowered), lowered
    return None, lowered
