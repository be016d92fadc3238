"""``trace_ids_with_prefix``: every engine finds full trace ids from a short prefix."""

from __future__ import annotations

from breadcrumbs.model import Span, batch_from_spans
from breadcrumbs.store.base import Capability, Store, TraceIdPrefix

REQUIRES = (Capability.TRACE_ID_PREFIX,)


BASE = 1_700_000_000_000_000_000
IDS = [
    "abcdef0100000000000000000000000a",  # oldest
    "abcdef01ffffffff000000000000000b",
    "abcdef0200000000000000000000000c",
    "00000000000000001234567890abcdef",  # a Zipkin 64-bit id, padded
]


async def _load(store: Store) -> None:
    spans = [
        Span(trace_id, f"{i + 1:016x}", "op", "svc", BASE + i * 1_000_000_000, 1000)
        for i, trace_id in enumerate(IDS)
    ]
    await store.write(batch_from_spans(spans))


async def test_a_prefix_finds_its_traces_newest_first(store: Store) -> None:
    await _load(store)
    assert await store.trace_ids_with_prefix(TraceIdPrefix("abcdef01")) == [IDS[1], IDS[0]]
    assert await store.trace_ids_with_prefix(TraceIdPrefix("abcdef02")) == [IDS[2]]
    assert await store.trace_ids_with_prefix(TraceIdPrefix("abcdef01ff")) == [IDS[1]]
    assert await store.trace_ids_with_prefix(TraceIdPrefix(IDS[0])) == [IDS[0]]
    assert await store.trace_ids_with_prefix(TraceIdPrefix("0000000000000000123")) == [IDS[3]]


async def test_limit_and_misses(store: Store) -> None:
    await _load(store)
    assert await store.trace_ids_with_prefix(TraceIdPrefix("abcdef0", limit=1)) == [IDS[2]]
    assert await store.trace_ids_with_prefix(TraceIdPrefix("abcdef03")) == []
    assert await store.trace_ids_with_prefix(TraceIdPrefix("abcdef01", limit=0)) == []
