"""``breadcrumbs migrate``: copy a stopped server's embedded store into ClickHouse
(``portability.migrate``), with a progress bar, a checkpoint to resume from, and the counts of
both stores compared at the end."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from breadcrumbs.cli.app import app, console, err_console
from breadcrumbs.cli.offline import open_offline, run
from breadcrumbs.portability import migrate as copying
from breadcrumbs.portability.scan import TRACES_PER_READ
from breadcrumbs.store.base import Capability, Store
from breadcrumbs.store.url import parse_store_url


def _default_checkpoint(source: Path, destination: str) -> Path:
    digest = hashlib.sha256(destination.encode()).hexdigest()[:12]
    return source / f"migrate-{digest}.json"


@app.command("migrate")
def migrate(
    source: Annotated[
        Path,
        typer.Option(
            "--from",
            help="The data directory of a stopped server (its spans.duckdb).",
            show_default=False,
        ),
    ],
    destination: Annotated[
        str,
        typer.Option(
            "--to",
            help="The store to fill: clickhouse://user:pass@host:8123/db or chdb:///path.",
            show_default=False,
        ),
    ],
    checkpoint_file: Annotated[
        Optional[Path],  # noqa: UP045 (typer reads the annotation at runtime)
        typer.Option(
            "--checkpoint",
            help="Where progress is kept \\[default: migrate-<hash of --to>.json in --from].",
            show_default=False,
        ),
    ] = None,
    restart: Annotated[
        bool, typer.Option(help="Ignore an existing checkpoint and copy from the start.")
    ] = False,
    check: Annotated[
        bool, typer.Option(help="Compare both stores' span counts per hour at the end.")
    ] = True,
    window_traces: Annotated[
        int,
        typer.Option(help="Traces read per window (smaller: less memory, more reads).", min=10),
    ] = 5 * TRACES_PER_READ,
) -> None:
    """Copy an embedded DuckDB store into ClickHouse, resumably.

    Stop the server first (the DuckDB file is locked while it runs). Run it again after an
    interruption: it continues from its checkpoint and copies nothing twice. Spans keep
    every field; RED span metrics are recomputed from the copied spans when the destination
    keeps them.
    """
    try:
        target = parse_store_url(destination)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--to") from None
    if not (source / "spans.duckdb").is_file():
        raise typer.BadParameter(f"no spans.duckdb in {source}", param_hint="--from")
    path = checkpoint_file or _default_checkpoint(source, target.redacted())
    run(
        lambda: _migrate(
            source, destination, target.redacted(), path, restart, check, window_traces
        )
    )


async def _migrate(
    source_dir: Path,
    destination: str,
    shown: str,
    path: Path,
    restart: bool,
    check: bool,
    window_traces: int,
) -> None:
    began = time.monotonic()
    source = await open_offline("duckdb", source_dir)
    try:
        target = await open_offline(destination, source_dir, create=True)
        try:
            await _copy_and_check(
                source, target, source_dir, shown, path, restart, check, window_traces, began
            )
        finally:
            await target.close()
    finally:
        await source.close()


async def _copy_and_check(
    source: Store,
    target: Store,
    source_dir: Path,
    shown: str,
    path: Path,
    restart: bool,
    check: bool,
    window_traces: int,
    began: float,
) -> None:
    stats = await source.stats()
    name = str(source_dir)
    try:
        checkpoint = None if restart else copying.Checkpoint.load(path)
    except (copying.CheckpointMismatch, ValueError, TypeError) as error:
        err_console.print(f"[red]breadcrumbs: unreadable checkpoint {path}: {error}[/red]")
        raise typer.Exit(2) from None
    if checkpoint is not None and (checkpoint.source, checkpoint.destination) != (name, shown):
        err_console.print(
            f"[red]breadcrumbs: {path} is the checkpoint of a copy from {checkpoint.source} "
            f"to {checkpoint.destination}; pass --restart or another --checkpoint[/red]"
        )
        raise typer.Exit(2)
    resumed = checkpoint is not None
    if checkpoint is None:
        start = stats.oldest_ns or 0
        end = (stats.newest_ns or 0) + 1 if stats.spans else start
        checkpoint = copying.Checkpoint(name, shown, start, end, start, start)
        checkpoint.save(path)
    before = checkpoint.copied
    console.print(
        f"Migrating {stats.spans:,} spans from {source_dir} to {shown}"
        + (f" (resuming: {before:,} copied before)" if resumed and not checkpoint.finished else "")
    )
    span = max(1, checkpoint.end_ns - checkpoint.start_ns)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task(
            "Copying", total=span, completed=checkpoint.done_ns - checkpoint.start_ns, status=""
        )

        def advance(step: copying.Progress) -> None:
            progress.update(
                task,
                completed=step.done_ns - checkpoint.start_ns,
                status=f"{step.copied:,} spans",
            )

        written = await copying.copy(
            source, target, checkpoint, path, traces_per_read=window_traces, on_window=advance
        )
        counts: list[copying.WindowCount] = []
        if check:
            progress.update(task, description="Checking", status="counting both stores")
            counts = await copying.check_counts(
                source, target, checkpoint.start_ns, checkpoint.end_ns
            )
    _summary(
        stats.spans, checkpoint, before, written, counts, check, target, time.monotonic() - began
    )


def _summary(
    source_spans: int,
    checkpoint: copying.Checkpoint,
    before: int,
    written: int,
    counts: list[copying.WindowCount],
    check: bool,
    target: Store,
    elapsed: float,
) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("Source spans", f"{source_spans:,}")
    table.add_row("Copied now", f"{written:,}")
    table.add_row("Copied before", f"{before:,}")
    red = (
        "recomputed from the copied spans"
        if target.capabilities.has(Capability.SPAN_METRICS)
        else "not copied: the destination keeps no RED aggregates yet ("
        + target.capabilities.missing[Capability.SPAN_METRICS].split(";")[0]
        + ")"
    )
    table.add_row("RED span metrics", red)
    bad = [c for c in counts if c.source != c.destination]
    if check:
        hours = f"{len(counts):,} hour{'' if len(counts) == 1 else 's'}"
        checked = f"{hours} checked, " + (
            "every count equal" if not bad else f"[red]{len(bad):,} differ[/red]"
        )
        table.add_row("Counts", checked)
    table.add_row("Time", f"{elapsed:.1f} s")
    console.print(table)
    for count in bad[:20]:
        moment = time.strftime("%Y-%m-%d %H:%M", time.gmtime(count.start_ns / 1e9))
        console.print(
            f"  [red]{moment} UTC: {count.source:,} spans in the source, "
            f"{count.destination:,} in the destination[/red]"
        )
    if bad:
        raise typer.Exit(1)
