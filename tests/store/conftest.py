"""The ``store`` fixture: every storage engine, opened on a temp dir.

One entry per engine in ``ENGINES`` (DuckDB, and ClickHouse through chDB); the suite in
``test_store.py`` runs on each. A case that needs something an engine lists in
``capabilities.missing`` is skipped with the reason.

chDB runs one embedded server per process on one data directory, so the chDB engine's stores
are databases in one directory of this test session, each named after its test directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from breadcrumbs.store.base import Capabilities, Capability, Store
from breadcrumbs.store.clickhouse import ClickHouseStore
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.duckdb import DuckDBStore
from breadcrumbs.store.duckdb import sql as duckdb_sql

from . import world


@dataclass(frozen=True)
class Engine:
    name: str
    open: Callable[[Path], Store]
    """Opens (creating or reopening) the engine's data in a directory."""
    capabilities: Capabilities
    fail_writes: Callable[[pytest.MonkeyPatch], None] | None = None
    """Makes the next writes fail after their spans were inserted (for engines that claim
    ``atomic_write``): a statement the engine runs later in the write raises."""


def _duckdb(directory: Path) -> Store:
    return DuckDBStore(directory / "spans.duckdb", threads=2)


def _duckdb_fail_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Runs after INSERT_SPANS, inside the write's transaction.
    monkeypatch.setattr(duckdb_sql, "UPSERT_ATTRIBUTE_KEYS", "SELECT error('injected failure')")


# One directory for the whole test process, however this module is imported (as the store
# suite's conftest, or by name from another directory's tests): an environment variable,
# not a module global, carries it.
CHDB_DIR = Path(
    os.environ.setdefault("BREADCRUMBS_TEST_CHDB_DIR", tempfile.mkdtemp(prefix="breadcrumbs-chdb-"))
)


def _chdb(directory: Path) -> Store:
    database = "t_" + hashlib.sha256(str(directory).encode()).hexdigest()[:16]
    return ClickHouseStore(ChdbExecutor(CHDB_DIR), database=database)


ENGINES = [
    Engine("duckdb", _duckdb, DuckDBStore.capabilities, _duckdb_fail_writes),
    Engine("chdb", _chdb, ClickHouseStore.capabilities),
]


@pytest.fixture(scope="module", params=ENGINES, ids=lambda engine: engine.name)
def engine(request: pytest.FixtureRequest) -> Engine:
    chosen: Engine = request.param
    return chosen


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A module naming ``REQUIRES = (Capability..., )`` is skipped, with the reason, on an
    engine that lacks one of them (before any of its data fixtures runs)."""
    for item in items:
        needed = getattr(getattr(item, "module", None), "REQUIRES", ())
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("engine") if callspec is not None else None
        if not needed or not isinstance(engine, Engine):
            continue
        for capability in needed:
            reason = engine.capabilities.missing.get(capability)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=f"{capability}: {reason}"))
                break


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


def require(store: Store, *capabilities: Capability | str) -> None:
    """Skip the calling case when the engine cannot do one of ``capabilities``."""
    for capability in capabilities:
        reason = store.capabilities.missing.get(Capability(capability))
        if reason is not None:
            pytest.skip(f"{capability}: {reason}")
