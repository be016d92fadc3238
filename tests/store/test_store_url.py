"""``--store`` URLs: every form the README documents, and readable errors for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from breadcrumbs.store.url import StoreUrl, parse_store_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("duckdb", StoreUrl("duckdb")),
        ("duckdb:///var/lib/b/spans.duckdb", StoreUrl("duckdb", Path("/var/lib/b/spans.duckdb"))),
        ("chdb", StoreUrl("chdb")),
        ("chdb:///tmp/ch", StoreUrl("chdb", Path("/tmp/ch"))),
        ("clickhouse://ch.internal", StoreUrl("clickhouse", host="ch.internal")),
        (
            "clickhouse://ingest:p%40ss@ch.internal:8124/traces?cluster=prod-1&secure=1",
            StoreUrl(
                "clickhouse",
                host="ch.internal",
                port=8124,
                user="ingest",
                password="p@ss",
                database="traces",
                cluster="prod-1",
                secure=True,
            ),
        ),
        ("clickhouses://ch", StoreUrl("clickhouse", host="ch", port=8443, secure=True)),
    ],
)
def test_store_urls(text: str, expected: StoreUrl) -> None:
    assert parse_store_url(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("postgres://x", "unknown store"),
        ("chdb://relative/dir", "chdb:///absolute/path"),
        ("clickhouse://h/db?replicas=2", "unknown ClickHouse store option 'replicas'"),
        ("clickhouse://h/db;drop", "database name"),
        ("clickhouse://h/db?cluster=a%20b", "cluster name"),
        ("clickhouse://h:99999/db", "bad port"),
        ("clickhouse://h/db?secure=maybe", "expected 1 or 0"),
    ],
)
def test_bad_store_urls_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_store_url(text)


def test_redacted_url_has_no_password() -> None:
    url = parse_store_url("clickhouse://u:secret@h:8123/db?cluster=c")
    assert url.redacted() == "clickhouse://u@h:8123/db?cluster=c"
    assert "secret" not in parse_store_url("clickhouses://u:secret@h/db").redacted()
