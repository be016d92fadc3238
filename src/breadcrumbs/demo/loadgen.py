"""Steady customer traffic at a configurable rate, with counters for a live summary."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.table import Table

from breadcrumbs.demo.menu_data import OUTFITS, SKUS, USERS

__all__ = ["LoadGenerator", "Stats", "random_order"]

MAX_IN_FLIGHT = 64


def random_order(rng: random.Random) -> dict[str, Any]:
    user = rng.choice(USERS)
    lines = rng.sample(SKUS, rng.randint(1, 3))
    return {
        "token": f"tok-{user}",
        "items": [{"sku": sku, "qty": rng.randint(1, 3)} for sku in lines],
        "outfit": rng.choice(OUTFITS),
    }


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    shed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))

    def record(self, outcome: str, elapsed_s: float) -> None:
        self.outcomes[outcome] += 1
        self.latencies_ms.append(elapsed_s * 1000)

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        outcomes = " ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"sent={self.sent} {outcomes} shed={self.shed} "
            f"p50={self.percentile(0.5):.0f}ms p95={self.percentile(0.95):.0f}ms"
        )

    def table(self, title: str) -> Table:
        table = Table(title=title, show_header=True, header_style="bold green")
        table.add_column("requests")
        table.add_column("outcomes")
        table.add_column("p50 ms", justify="right")
        table.add_column("p95 ms", justify="right")
        table.add_column("max ms", justify="right")
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(self.outcomes.items())) or "-"
        table.add_row(
            f"{self.sent} ({self.sent / max(time.monotonic() - self.started, 1e-9):.1f}/s)",
            outcomes,
            f"{self.percentile(0.5):.0f}",
            f"{self.percentile(0.95):.0f}",
            f"{max(self.latencies_ms, default=0):.0f}",
        )
        return table


class LoadGenerator:
    """Poisson arrivals at ``rate`` per second: 85% orders, 15% menu browsing."""

    def __init__(self, gateway_url: str, rate: float, seed: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.gateway_url = gateway_url
        self.rate = rate
        self.rng = random.Random(seed)
        self.stats = Stats()

    async def _one(self, client: httpx.AsyncClient) -> None:
        started = time.monotonic()
        try:
            if self.rng.random() < 0.15:
                response = await client.get("/menu")
            else:
                response = await client.post("/orders", json=random_order(self.rng))
            outcome = f"{response.status_code}"
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        self.stats.record(outcome, time.monotonic() - started)

    async def run(self, stop: asyncio.Event, limit: int | None = None) -> Stats:
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=30.0) as client:
            while not stop.is_set() and (limit is None or self.stats.sent < limit):
                if len(tasks) >= MAX_IN_FLIGHT:
                    self.stats.shed += 1
                else:
                    task = asyncio.create_task(self._one(client))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    self.stats.sent += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.rng.expovariate(self.rate))
            if tasks:
                await asyncio.wait(tasks, timeout=10.0)
        return self.stats
