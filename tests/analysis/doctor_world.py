"""Hand-built traces for the doctor's checks: a healthy shop, and ways to break it.

``Shop`` writes spans as an instrumented service would; ``evidence`` stores them in a real
DuckDB store and reads them back through the doctor's reads, as the server does.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from breadcrumbs.analysis.doctor import ID_PATTERN, Evidence
from breadcrumbs.model import AttributeValue, Link, Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.query.doctor import gather_evidence
from breadcrumbs.store.base import DoctorWindow
from breadcrumbs.store.duckdb import DuckDBStore

T0: Final = 1_800_000_000_000_000_000
MS: Final = 1_000_000
WINDOW: Final = (T0 - 1000 * MS, T0 + 600_000 * MS)

EMPTY_STORE: Path | None = None
"""A migrated empty store file to copy (set by the conftest), else each store is made."""


@dataclass
class Shop:
    spans: list[Span] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def trace_id(self) -> str:
        return f"{next(self._ids):032x}"

    def span(
        self,
        trace: str,
        service: str,
        name: str,
        kind: SpanKind,
        start_ms: float,
        duration_ms: float,
        parent: str = "",
        *,
        status: StatusCode = StatusCode.UNSET,
        trace_state: str = "",
        links: tuple[Link, ...] = (),
        host: str = "",
        **attributes: AttributeValue,
    ) -> str:
        span_id = f"{next(self._ids):016x}"
        self.spans.append(
            Span(
                trace_id=trace,
                span_id=span_id,
                name=name,
                service=service,
                start_ns=T0 + int(start_ms * MS),
                duration_ns=int(duration_ms * MS),
                parent_span_id=parent,
                kind=kind,
                status=status,
                trace_state=trace_state,
                links=links,
                attributes={k.replace("__", "."): v for k, v in attributes.items()},
                resource={"host.name": host} if host else None,
            )
        )
        return span_id

    def call(
        self,
        trace: str,
        caller: str,
        parent: str,
        callee: str,
        route: str,
        start_ms: float,
        duration_ms: float,
        *,
        propagate: bool = True,
        server_name: str | None = None,
    ) -> str:
        """An HTTP call as the OpenTelemetry instrumentations record it; the server span's
        id (in a new trace when the context is lost)."""
        method, _, path = route.partition(" ")
        client = self.span(
            trace, caller, method, SpanKind.CLIENT, start_ms, duration_ms, parent,
            http__request__method=method, server__address=callee, server__port=8080,
            url__full=f"http://{callee}:8080{path}",
        )  # fmt: skip
        return self.span(
            trace if propagate else self.trace_id(),
            callee,
            server_name or route,
            SpanKind.SERVER,
            start_ms + 1,
            duration_ms - 2,
            client if propagate else "",
            http__request__method=method,
            http__route=path,
            server__address=f"{callee}:8080",
            server__port=8080,
        )

    def healthy_order(self, start_ms: float = 0) -> str:
        """frontend -> cart -> postgres, and a message to mailer."""
        trace = self.trace_id()
        root = self.span(
            trace, "frontend", "POST /orders", SpanKind.SERVER, start_ms, 100,
            http__request__method="POST", http__route="/orders",
            server__address="frontend:8080", server__port=8080, user__id="u-1",
        )  # fmt: skip
        cart = self.call(trace, "frontend", root, "cart", "GET /items", start_ms + 2, 40)
        self.span(
            trace, "cart", "SELECT items", SpanKind.CLIENT, start_ms + 5, 30, cart,
            db__system="postgresql", peer__service="postgres",
        )  # fmt: skip
        send = self.span(
            trace, "frontend", "send orders", SpanKind.PRODUCER, start_ms + 80, 2, root,
            messaging__system="kafka",
        )  # fmt: skip
        self.span(
            trace, "mailer", "process orders", SpanKind.CONSUMER, start_ms + 150, 20, send,
            messaging__system="kafka",
        )  # fmt: skip
        return trace

    def healthy(self, orders: int = 20) -> Shop:
        for i in range(orders):
            self.healthy_order(start_ms=i * 1000)
        return self


async def evidence(shop: Shop, directory: Path, *, value_limit: int = 16_384) -> Evidence:
    """The doctor's evidence over the shop's spans, through a real store."""
    path = directory / "doctor.duckdb"
    if EMPTY_STORE is not None:
        shutil.copyfile(EMPTY_STORE, path)
    store = DuckDBStore(path, threads=2, dependency_counts=False)
    try:
        await store.write(batch_from_spans(shop.spans))
        window = DoctorWindow(*WINDOW, ID_PATTERN)
        return await gather_evidence(store, window, value_limit=value_limit)
    finally:
        await store.close()
