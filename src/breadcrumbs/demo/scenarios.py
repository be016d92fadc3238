"""Fault scenarios of the kale smoothie shop, and the one file every service reads them from.

The gateway's control endpoint writes ``scenarios.json`` in the shop's state directory
(atomically); every service re-reads it when its modification time changes, so a scenario
switched at runtime takes effect on the next request everywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["SCENARIOS", "ScenarioFile", "validate"]

SCENARIOS: dict[str, str] = {
    "payment-div-zero": "payment divides by zero on carts fully paid with loyalty points",
    "cache-lock-contention": "a janitor hogs the cache lock: reads wait ~10x longer",
    "slow-db": "delivery-scheduling lost an index: a slow query for orders of 5+ items",
    "third-party-timeout": "the uninstrumented legacy-pricing service times out",
    "cascade": "inventory fails for açaí orders; the gateway's retries fail the order",
    "broken-propagation": "courier-matching drops the incoming trace context: traces split",
    "bad-span-names": "loyalty names spans with ids (GET /points/8812) and DoSomething",
}


def validate(names: Iterable[str]) -> list[str]:
    """Known scenario names, deduplicated in the order given; ValueError on an unknown one."""
    chosen: list[str] = []
    for name in names:
        if name not in SCENARIOS:
            known = ", ".join(SCENARIOS)
            raise ValueError(f"unknown scenario {name!r}; known: {known}")
        if name not in chosen:
            chosen.append(name)
    return chosen


class ScenarioFile:
    """The active scenarios, cached by the file's modification time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: int | None = None
        self._active: frozenset[str] = frozenset()

    def write(self, names: Iterable[str]) -> list[str]:
        chosen = validate(names)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"scenarios": chosen}))
        os.replace(tmp, self.path)
        return chosen

    def active(self) -> frozenset[str]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return frozenset()
        if stamp != self._stamp:
            try:
                data = json.loads(self.path.read_text())
                self._active = frozenset(data.get("scenarios", []))
            except (OSError, ValueError):
                return self._active  # mid-replace on an odd filesystem: keep the last view
            self._stamp = stamp
        return self._active

    def __contains__(self, name: str) -> bool:
        return name in self.active()
