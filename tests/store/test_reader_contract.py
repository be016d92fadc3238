"""Every read of the store contract takes one parameter object carrying a ``Scope``, so
tenancy can scope reads later without changing a signature (and a new read cannot slip in
with bare arguments)."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from breadcrumbs.store import base
from breadcrumbs.store.clickhouse import ClickHouseStore
from breadcrumbs.store.duckdb import DuckDBStore

UNSCOPED = {"stats"}
"""Operational reads about the store itself, not about anyone's spans."""

READS = sorted(
    name
    for name, member in vars(base.SpanReader).items()
    if inspect.iscoroutinefunction(member) and name not in UNSCOPED
)


def test_reader_contract_lists_the_reads() -> None:
    assert {"get_trace", "get_traces", "find_trace_ids", "services", "red"} <= set(READS)


@pytest.mark.parametrize("name", READS)
def test_each_read_takes_one_scoped_parameter_object(name: str) -> None:
    hints = typing.get_type_hints(getattr(base.SpanReader, name))
    hints.pop("return")
    assert len(hints) == 1, f"{name} takes {sorted(hints)}: one parameter object expected"
    (param_type,) = hints.values()
    assert dataclasses.is_dataclass(param_type), f"{name}'s parameter is not a dataclass"
    scope = {f.name: f for f in dataclasses.fields(param_type)}.get("scope")
    assert scope is not None, f"{name}'s parameter object has no scope"
    assert scope.default == base.WHOLE_STORE


@pytest.mark.parametrize("engine", [DuckDBStore, ClickHouseStore])
@pytest.mark.parametrize("name", READS)
def test_engines_sign_reads_as_the_contract_does(engine: type, name: str) -> None:
    contract = inspect.signature(getattr(base.SpanReader, name))
    implemented = inspect.signature(getattr(engine, name))
    assert list(implemented.parameters) == list(contract.parameters), (engine.__name__, name)
