"""``breadcrumbs export`` and ``breadcrumbs import``: OTLP JSON lines out of and into a store.

Export reads a running server's ``/api/x/export`` (the default, like every client command:
the embedded store is locked while a server runs) or, with ``--store``/``--data-dir``, a
stopped server's store directly. Import sends through a running server's OTLP endpoint (the
default: durable on ack, limits, span metrics and sampling as for live traffic) or, with
``--store``/``--data-dir``, writes into a store no server holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Optional

import httpx
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from breadcrumbs.cli.app import app, console, err_console
from breadcrumbs.cli.client import ServerOption, server_url
from breadcrumbs.cli.offline import (
    DataDirOption,
    StoreOption,
    open_offline,
    parse_moment,
    run,
    wants_store,
)
from breadcrumbs.config import ConfigError, load_settings
from breadcrumbs.errors import BadInput
from breadcrumbs.model import SpanBatch, concat_batches, normalize_trace_id
from breadcrumbs.portability.lines import (
    Line,
    decode_lines,
    encode_lines,
    open_for_reading,
    open_for_writing,
)
from breadcrumbs.portability.scan import SpanSelection, scan
from breadcrumbs.portability.send import SPANS_PER_REQUEST, OtlpSender, SendError
from breadcrumbs.store.base import Capability, Store

_MB = 1024 * 1024
# The server sends each window as it is read; a big window may take a while to start.
_EXPORT_TIMEOUT = httpx.Timeout(60.0, read=600.0)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _trace_ids(texts: list[str]) -> tuple[str, ...]:
    try:
        return tuple(normalize_trace_id(t) for t in texts)
    except BadInput as error:
        raise typer.BadParameter(str(error), param_hint="--trace-id") from None


# --- export --------------------------------------------------------------------------------


@app.command("export")
def export(
    output: Annotated[
        Path, typer.Argument(help="File to write (.gz: gzip-compressed; -: standard output).")
    ],
    since: Annotated[
        Optional[str],  # noqa: UP045 (typer reads the annotation at runtime)
        typer.Option(help="Spans starting from: 2h (ago), an RFC 3339 time \\[default: oldest]."),
    ] = None,
    until: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Spans starting before: 10m (ago), an RFC 3339 time \\[default: now]."),
    ] = None,
    service: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--service", help="Only traces with a span of this service (repeatable)."),
    ] = None,
    trace_id: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--trace-id", help="Only these whole traces, for a bug report (repeatable)."),
    ] = None,
    server: ServerOption = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write stored spans as OTLP JSON lines (the Collector file exporter's format).

    From a running server (--server, the default) or a stopped one's store (--data-dir DIR,
    --store URL). Spans come as stored: ids, times, attributes, events, links, status,
    resource, scope and trace state.
    """
    filters = _Filters(
        parse_moment(since, "--since") if since else None,
        parse_moment(until, "--until") if until else None,
        tuple(service or ()),
        _trace_ids(trace_id or []),
    )
    began = time.monotonic()
    if wants_store(store, data_dir):
        spans, lines = run(lambda: _export_store(store, data_dir, output, filters))
        what = f"{spans:,} spans in {lines:,} lines"
    else:
        lines, size = _export_server(server, output, filters)
        what = f"{lines:,} lines ({size / _MB:.1f} MB of JSON)"
    if str(output) != "-":
        err_console.print(
            f"Exported {what} to {output} in {time.monotonic() - began:.1f} s", soft_wrap=True
        )


@dataclass(frozen=True, slots=True)
class _Filters:
    """What to export; a missing end of the time range: the store's oldest or newest span."""

    start: int | None
    end: int | None
    services: tuple[str, ...]
    trace_ids: tuple[str, ...]


async def _export_store(
    url: str | None, data_dir: Path | None, output: Path, filters: _Filters
) -> tuple[int, int]:
    opened = await open_offline(url, data_dir)
    try:
        stats = await opened.stats()
        first = filters.start if filters.start is not None else stats.oldest_ns or 0
        stop = filters.end if filters.end is not None else (stats.newest_ns or 0) + 1
        selection = SpanSelection(first, stop, filters.services, filters.trace_ids)
        spans = lines = 0
        with open_for_writing(output) as stream, _progress() as progress:
            task = progress.add_task("Exporting", total=max(1, stop - first), status="")
            async for window in scan(opened, selection):
                for line in encode_lines(window.spans):
                    stream.write(line)
                    lines += 1
                spans += window.spans.num_rows
                progress.update(task, completed=window.end_ns - first, status=f"{spans:,} spans")
        return spans, lines
    finally:
        await opened.close()


def _export_server(server: str | None, output: Path, filters: _Filters) -> tuple[int, int]:
    base = server_url(server)
    params: list[tuple[str, str | int | float | bool | None]] = [
        *(("service", s) for s in filters.services),
        *(("traceId", t) for t in filters.trace_ids),
        *(("start", filters.start),) * (filters.start is not None),
        *(("end", filters.end),) * (filters.end is not None),
    ]
    lines = size = 0
    try:
        with (
            httpx.stream(
                "GET", base + "/api/x/export", params=params, timeout=_EXPORT_TIMEOUT
            ) as response,
            _progress() as progress,
        ):
            if response.status_code != 200:
                response.read()
                err_console.print(
                    f"[red]{response.status_code} from {base}: {response.text.strip()[:500]}[/red]"
                )
                raise typer.Exit(1)
            task = progress.add_task("Exporting", total=None, status="")
            with open_for_writing(output) as stream:
                for chunk in response.iter_bytes():
                    stream.write(chunk)
                    lines += chunk.count(b"\n")
                    size += len(chunk)
                    progress.update(task, status=f"{lines:,} lines")
    except httpx.HTTPError as error:
        err_console.print(
            f"[red]export from {base} failed: {error}[/red]\n"
            "Is `breadcrumbs serve` running? Point to it with --server URL, or read a stopped "
            "server's store with --data-dir DIR."
        )
        raise typer.Exit(2) from None
    return lines, size


# --- import --------------------------------------------------------------------------------


def _endpoint(endpoint: str | None) -> str:
    """The given OTLP HTTP endpoint, or the one ``serve`` with this environment listens on."""
    if endpoint:
        return endpoint
    try:
        settings = load_settings({})
    except ConfigError as error:
        err_console.print(f"[red]breadcrumbs: {error}[/red]")
        raise typer.Exit(2) from None
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.otlp_http_port}"


class _Reading:
    """Lines of every input, grouped into batches of about ``spans`` spans."""

    def __init__(self, inputs: list[Path], spans: int) -> None:
        self.inputs, self.spans = inputs, spans
        self.lines = self.read = self.refused = 0
        self.reasons: list[str] = []

    def batches(self) -> Iterator[SpanBatch]:
        for path in self.inputs:
            pending: list[SpanBatch] = []
            count = 0
            with open_for_reading(path) as stream:
                for line in _lines(stream, path):
                    self.lines += 1
                    self.read += line.spans.num_rows + line.rejected
                    self.refused += line.rejected
                    if line.error:
                        self.reasons.append(f"{path}:{line.number}: {line.error}")
                    pending.append(line.spans)
                    count += line.spans.num_rows
                    if count >= self.spans:
                        yield concat_batches(pending)
                        pending, count = [], 0
            if count:
                yield concat_batches(pending)


def _lines(stream: IO[bytes], path: Path) -> Iterator[Line]:
    try:
        yield from decode_lines(stream)
    except BadInput as error:
        err_console.print(f"[red]{path}: {error}[/red]")
        raise typer.Exit(1) from None


@app.command("import")
def import_(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="OTLP JSON lines files (.gz too; -: standard input)."),
    ],
    endpoint: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="OTEL_EXPORTER_OTLP_ENDPOINT",
            help="A running server's OTLP HTTP endpoint \\[default: from BREADCRUMBS_HOST and "
            "BREADCRUMBS_OTLP_HTTP_PORT, else http://127.0.0.1:4318].",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Load OTLP JSON lines (from export or a Collector's file exporter).

    Through a running server's OTLP endpoint (the default: each batch is acknowledged once
    durable in the server's WAL, and counts in its span metrics), or with --data-dir/--store
    straight into a store no server holds. Importing a file twice stores its spans twice.
    """
    missing = [path for path in inputs if str(path) != "-" and not path.is_file()]
    if missing:
        raise typer.BadParameter(f"no such file: {missing[0]}", param_hint="INPUTS")
    began = time.monotonic()
    reading = _Reading(inputs, SPANS_PER_REQUEST)
    if wants_store(store, data_dir):
        written, red = run(lambda: _import_store(store, data_dir, reading))
        where = f"into the store ({red})"
        accepted, rejected, reasons = written, 0, []
    else:
        url = _endpoint(endpoint)
        sender = OtlpSender(url)
        try:
            with _progress() as progress:
                task = progress.add_task("Importing", total=None, status="")
                for batch in reading.batches():
                    sender.send(batch)
                    progress.update(task, status=f"{sender.result.accepted:,} spans accepted")
        except SendError as error:
            err_console.print(
                f"[red]import stopped: {error}[/red]\n{sender.result.accepted:,} spans were "
                "accepted before it (durable on the server); is `breadcrumbs serve` running?"
            )
            raise typer.Exit(2) from None
        finally:
            sender.close()
        where = f"through {sender.url}"
        accepted, rejected = sender.result.accepted, sender.result.rejected
        reasons = sender.result.reasons
    console.print(
        f"Imported {accepted:,} of {reading.read:,} spans from {reading.lines:,} lines {where} "
        f"in {time.monotonic() - began:.1f} s",
        soft_wrap=True,
    )
    refused = reading.refused + rejected
    if refused:
        err_console.print(f"[yellow]{refused:,} spans refused:[/yellow]")
        for reason in (reading.reasons + reasons)[:10]:
            err_console.print(f"  {reason}")
        raise typer.Exit(1)


async def _import_store(
    url: str | None, data_dir: Path | None, reading: _Reading
) -> tuple[int, str]:
    opened = await open_offline(url, data_dir, create=True)
    written = 0
    metrics = opened.capabilities.has(Capability.SPAN_METRICS)
    try:
        with _progress() as progress:
            task = progress.add_task("Importing", total=None, status="")
            for batch in reading.batches():
                await _write(opened, batch, metrics)
                written += batch.num_rows
                progress.update(task, status=f"{written:,} spans written")
    finally:
        await opened.close()
    return written, "span metrics added" if metrics else "this engine keeps no span metrics"


async def _write(store: Store, batch: SpanBatch, metrics: bool) -> None:
    from breadcrumbs.analysis import red

    await store.write(batch)
    if metrics:
        # The store's own watermark again: rows that came through no WAL move it nowhere.
        sequence = await store.span_metrics_wal_sequence()
        await store.write_span_metrics(red.aggregate(batch), wal_sequence=sequence)
