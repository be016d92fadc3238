"""The ``store`` fixture: every storage engine, opened on a temp dir.

One entry per engine in ``ENGINES``; the suite in ``test_store.py`` runs on each. A case that
needs something an engine lists in ``capabilities.missing`` is skipped with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from breadcrumbs.store.base import Store
from breadcrumbs.store.duckdb import DuckDBStore

from . import world


@dataclass(frozen=True)
class Engine:
    name: str
    open: Callable[[Path], Store]
    """Opens (creating or reopening) the engine's data in a directory."""


def _duckdb(directory: Path) -> Store:
    return DuckDBStore(directory / "spans.duckdb", threads=2)


ENGINES = [Engine("duckdb", _duckdb)]


@pytest.fixture(scope="module", params=ENGINES, ids=lambda engine: engine.name)
def engine(request: pytest.FixtureRequest) -> Engine:
    chosen: Engine = request.param
    return chosen


@pytest.fixture
async def store(engine: Engine, tmp_path: Path) -> AsyncIterator[Store]:
    opened = engine.open(tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="module")
def loaded(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store per engine holding the whole world, shared by the read-only cases."""
    opened = engine.open(tmp_path_factory.mktemp(f"store-{engine.name}"))
    asyncio.run(opened.write(world.world_batch()))
    try:
        yield opened
    finally:
        asyncio.run(opened.close())


def require(store: Store, *capabilities: str) -> None:
    """Skip the calling case when the engine cannot do one of ``capabilities``."""
    for capability in capabilities:
        reason = store.capabilities.missing.get(capability)
        if reason is not None:
            pytest.skip(f"{capability}: {reason}")
