"""Same process, interleaved: the ClickHouse spans layout of schema v4 (Events and Links as
arrays of tuples) against v5's (each packed in one JSON column), and a tag search with every
branch of its OR against one with only the branches its tag can match (``sql.tag_lookup``).

    python bench/ch_layout_ab.py --spans 1000000 --rounds 120 [--dir DIR]

On one chDB database (``--dir`` keeps it for another run) holding ``--spans`` generated spans
(``bench/gen.py``, an hour, 100k-span writes through ``ClickHouseStore``), the spans are
copied into a table of each layout (v4's from ``tests/store/fixtures/clickhouse_v4.sql``, as
v4 made it) and merged to one part each. Each round, in random order per layout: get-trace of
a sampled trace, get-traces of a tagged search's traces (its 20, or a service search's), and
the tagged search statement (service + ``http.response.status_code=500`` + >= 20 ms, the
hour); results must be equal row for row. Then the tagged search through
``find_trace_ids`` as the store runs it (windows widening newest first), every branch kept
against branches looked up first. Prints p50/p90 ms, the columns' compressed bytes, and the
load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOUR_NS = 3600 * 10**9
V4_SPANS = HERE.parent / "tests" / "store" / "fixtures" / "clickhouse_v4.sql"


async def build(directory: Path, spans: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from breadcrumbs.store.clickhouse import ClickHouseStore
    from breadcrumbs.store.clickhouse.executor import ChdbExecutor
    from gen import Generator

    store = ClickHouseStore(ChdbExecutor(directory / "chdb"))
    gen = Generator(start_ns=time.time_ns() - HOUR_NS, spans_per_second=spans / 3600)
    rng = random.Random(11)
    sample: list[str] = []
    services: set[str] = set()
    for sequence, batch in enumerate(gen.batches(spans, 100_000), start=1):
        ids = batch.column("TraceId")
        sample.extend(ids[rng.randrange(batch.num_rows)].as_py() for _ in range(30))
        services |= set(batch.column("ServiceName").to_pylist())
        await store.write(batch, wal_sequence=sequence)
    stats = await store.stats()
    await store.close()
    return {"sample": sample, "services": sorted(services), "end": stats.newest_ns}


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=120)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    from breadcrumbs.store.base import TagFilter, TraceQuery
    from breadcrumbs.store.clickhouse import ClickHouseStore, schema, sql
    from breadcrumbs.store.clickhouse.executor import ChdbExecutor
    from breadcrumbs.store.clickhouse.store import unpacked

    directory = args.dir or Path(tempfile.mkdtemp(prefix="bc-ch-ab-"))
    directory.mkdir(parents=True, exist_ok=True)
    meta_file = directory / "meta.json"
    if not meta_file.exists():
        meta_file.write_text(json.dumps(await build(directory, args.spans)))
    meta = json.loads(meta_file.read_text())
    load_before = os.getloadavg()
    store = ClickHouseStore(ChdbExecutor(directory / "chdb"))
    executor = store._executor  # one process: chDB allows one embedded server
    db = "`breadcrumbs`"
    frozen = next(s for s in V4_SPANS.read_text().split(";\n") if ".spans (" in s)
    layouts = {
        "v4": frozen.replace("DATABASE", "breadcrumbs").replace(
            f"{db}.spans (", f"{db}.spans_ab_v4 ("
        ),
        "v5": schema.ddl("breadcrumbs")[3].replace(f"{db}.spans (", f"{db}.spans_ab_v5 ("),
    }
    copied = ", ".join(schema.SPAN_TABLE_COLUMNS[:-2])
    for name, ddl in layouts.items():
        table = f"spans_ab_{name}"
        exists = executor.query(
            "SELECT count() FROM system.tables "
            "WHERE database = 'breadcrumbs' AND name = {t:String}",
            {"t": table},
        )
        if exists.column(0)[0].as_py():
            continue
        executor.command(ddl)
        into = "Events, Links" if name == "v4" else "EventsIn, LinksIn"
        executor.command(
            f"INSERT INTO {db}.{table} ({copied}, {into}) "
            f"SELECT {copied}, Events, Links FROM {db}.spans"
        )
        executor.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
    sizes = executor.query(
        "SELECT table, name, sum(data_compressed_bytes) AS b FROM system.columns "
        "WHERE database = 'breadcrumbs' AND table LIKE 'spans_ab_%' "
        "AND name IN ('Events', 'Links', 'EventsText', 'LinksText') "
        "GROUP BY table, name HAVING b > 0 ORDER BY table, name"
    ).to_pylist()
    totals = executor.query(
        "SELECT table, sum(bytes_on_disk) AS b, sum(rows) AS n FROM system.parts "
        "WHERE active AND database = 'breadcrumbs' AND table LIKE 'spans_ab_%' GROUP BY table "
        "ORDER BY table"
    ).to_pylist()

    end = meta["end"]
    tag = TagFilter("http.response.status_code", "500")

    def tagged(service: str) -> TraceQuery:
        return TraceQuery(
            end - HOUR_NS, end, service=service, tags=(tag,), min_duration_ns=20_000_000
        )

    every = (sql.TagBranches(resources=(0,), events=True),)

    def main_or(query: TraceQuery) -> tuple[str, dict[str, Any]]:
        """The search statement as main (v4) wrote it: every branch, resources by subquery."""
        statement = sql.find_trace_ids(db, query, every)
        assert statement is not None
        text, params = statement
        subquery = (
            f"ResourceHash IN (SELECT ResourceHash FROM {db}.resources "
            "WHERE (ResourceAttributes[{k0:String}] = {v0:String}))"
        )
        del params["r0"]
        return text.replace("ResourceHash IN {r0:Array(UInt64)}", subquery), params

    text, params = sql.tag_lookup(db, (tag,))
    looked_up = sql.tag_branches(executor.query(text, params).to_pylist()[0], (tag,))
    traces: list[list[str]] = []
    for service in meta["services"]:
        found = executor.query(*main_or(tagged(service))).column(0).to_pylist()
        if not found:
            plain = sql.find_trace_ids(db, TraceQuery(end - HOUR_NS, end, service=service), ())
            assert plain is not None
            found = executor.query(*plain).column(0).to_pylist()
        traces.append([str(t) for t in found])

    one, many = sql.traces_spans(db, one=True), sql.traces_spans(db)
    times: dict[str, list[float]] = {}

    def timed(label: str, text: str, params: dict[str, Any], unpack: bool = False) -> Any:
        began = time.perf_counter()
        got = executor.query(text, params)
        if unpack:  # v5's spans: Events and Links read as JSON, decoded in Python
            got = unpacked(got)
        times.setdefault(label, []).append(time.perf_counter() - began)
        return got

    rng = random.Random(3)
    for r in range(args.rounds):
        service = meta["services"][r % len(meta["services"])]
        trace = meta["sample"][r % len(meta["sample"])]
        search, search_params = main_or(tagged(service))
        order = list(layouts)
        rng.shuffle(order)
        results = {}
        for name in order:
            table = f".spans_ab_{name}"
            v5 = name == "v5"
            # v4 (main) selects the arrays; v5 their JSON, decoded in Python (store.unpacked).
            select = {} if v5 else {"EventsText, LinksText": "Events, Links"}

            def spans_of(text: str, table: str = table, select: dict[str, str] = select) -> str:
                for packed, arrays in select.items():
                    text = text.replace(packed, arrays)
                return text.replace(".spans", table)

            results[name] = [
                timed(f"get-trace {name}", spans_of(one), {"trace": trace}, v5),
                timed(
                    f"get-traces (20) {name}",
                    spans_of(many),
                    {"traces": traces[r % len(traces)]},
                    v5,
                ),
                timed(
                    f"tagged search statement {name}",
                    search.replace(".spans", table),
                    search_params,
                ),
            ]
        for got, expected in zip(results["v5"], results["v4"], strict=True):
            assert got.to_pylist() == expected.to_pylist(), r

    # The store's find_trace_ids (widening windows): main's OR, or the branches looked up.
    async def search_every(query: TraceQuery) -> list[str]:
        top, span = query.end_ns, query.end_ns - query.start_ns
        for fraction in (64, 16, 1):
            start = query.start_ns if fraction == 1 else max(query.start_ns, top - span // fraction)
            windowed = main_or(dataclasses.replace(query, start_ns=start))
            found = [str(t) for t in executor.query(*windowed).column(0).to_pylist()]
            if len(found) >= query.limit or start == query.start_ns:
                break
        return found

    for r in range(args.rounds):
        query = tagged(meta["services"][r % len(meta["services"])])
        order = ["every branch (main)", "looked up"]
        rng.shuffle(order)
        answers = {}
        for label in order:
            began = time.perf_counter()
            answers[label] = (
                await search_every(query)
                if label == "every branch (main)"
                else await store.find_trace_ids(query)
            )
            times.setdefault(f"find_trace_ids tagged, {label}", []).append(
                time.perf_counter() - began
            )
        assert answers["every branch (main)"] == answers["looked up"], r
    await store.close()
    load_after = os.getloadavg()
    print(f"{totals[0]['n']:,} spans; load average before", end=" ")
    print(" ".join(f"{x:.1f}" for x in load_before), "after", end=" ")
    print(" ".join(f"{x:.1f}" for x in load_after))
    print("compressed bytes:", ", ".join(f"{s['table']}.{s['name']} {s['b']:,}" for s in sizes))
    print("table bytes:", ", ".join(f"{t['table']} {t['b']:,}" for t in totals))
    print(f"tag branches looked up: {looked_up}")
    for label, values in times.items():
        print(f"{label:<44} p50 {p(values, 0.5):7.1f} ms  p90 {p(values, 0.9):7.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
