"""What every decoder returns, and the limits every decoder enforces while it decodes.

Limits are applied inside the decoders because that is where each span is already being
walked; applying them later would mean a second pass over every attribute. Truncation is
marked, never silent: a span whose attribute values were cut gets the span attribute
``breadcrumbs.truncated`` (int: how many values were cut), and dropped attributes, events or
links are counted in ``breadcrumbs.dropped_attributes`` / ``breadcrumbs.dropped_events`` /
``breadcrumbs.dropped_links`` (ints), so a user sees in the UI that data was capped.
"""

from __future__ import annotations

from dataclasses import dataclass

from breadcrumbs.model import SpanBatch

TRUNCATED_KEY = "breadcrumbs.truncated"
DROPPED_ATTRIBUTES_KEY = "breadcrumbs.dropped_attributes"
DROPPED_EVENTS_KEY = "breadcrumbs.dropped_events"
DROPPED_LINKS_KEY = "breadcrumbs.dropped_links"


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    max_spans: int = 100_000  # per request; more is a BadInput for the whole request
    max_attributes: int = 128  # per span, resource, event or link; the rest are dropped
    max_value_length: int = 16_384  # characters of one attribute value text; cut beyond
    max_events: int = 256  # per span
    max_links: int = 128  # per span


@dataclass(frozen=True, slots=True)
class DecodeResult:
    """Decoded spans plus what was refused (OTLP partial success).

    ``rejected`` spans were dropped for bad data (invalid ids, absurd timestamps ...);
    ``error`` says why in one readable line ("" when nothing was rejected). A request that
    cannot be parsed at all raises ``errors.BadInput`` instead.
    """

    batch: SpanBatch
    rejected: int = 0
    error: str = ""
