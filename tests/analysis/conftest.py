"""A migrated, empty DuckDB file made once per session: each doctor test copies it instead
of creating and migrating a store (seconds on a loaded machine)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from breadcrumbs.store.duckdb import DuckDBStore

from . import doctor_world


@pytest.fixture(scope="session", autouse=True)
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("empty-store") / "doctor.duckdb"
    asyncio.run(DuckDBStore(path, threads=2).close())
    doctor_world.EMPTY_STORE = path
    return path
