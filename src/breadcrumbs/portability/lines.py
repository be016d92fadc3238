"""OTLP JSON lines: one OTLP/JSON ``TracesData`` per line.

The format of the OpenTelemetry Collector's file exporter (``format: json``), which its
``otlpjsonfile`` receiver reads back, so a file written here feeds a Collector and a
Collector's file imports here. A name ending in ``.gz`` is gzip-compressed both ways.
Encoding and decoding are the OTLP codecs' (``codec.jaeger.to_otlp_json``,
``codec.otlp.decode_json``); this module only cuts batches into lines and lines into batches.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, cast

import orjson

from breadcrumbs.codec.base import DecodeLimits
from breadcrumbs.codec.jaeger import to_otlp_json
from breadcrumbs.codec.otlp import DEFAULT_LIMITS, decode_json
from breadcrumbs.errors import BadInput
from breadcrumbs.model import SpanBatch

SPANS_PER_LINE: Final = 1_000
"""A line holds at most this many spans (the Collector's batches are of this order)."""


def encode_lines(batch: SpanBatch, spans_per_line: int = SPANS_PER_LINE) -> Iterator[bytes]:
    """The batch as lines (each ending in a newline) of at most ``spans_per_line`` spans."""
    for offset in range(0, batch.num_rows, spans_per_line):
        yield orjson.dumps(to_otlp_json(batch.slice(offset, spans_per_line))) + b"\n"


@dataclass(frozen=True, slots=True)
class Line:
    """One decoded line: its spans, the spans the decoder refused and why."""

    number: int
    spans: SpanBatch
    rejected: int = 0
    error: str = ""


def decode_lines(stream: IO[bytes], limits: DecodeLimits = DEFAULT_LIMITS) -> Iterator[Line]:
    """Each non-blank line decoded; a line that is not OTLP/JSON raises ``BadInput`` naming
    its number (a backup with a torn last line says where it tore)."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            result = decode_json(raw, limits)
        except BadInput as error:
            raise BadInput(f"line {number}: {error}") from None
        yield Line(number, result.batch, result.rejected, result.error)


def is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


@contextmanager
def open_for_writing(path: Path) -> Iterator[IO[bytes]]:
    """The file, gzip-compressed when its name ends in ``.gz``; ``-`` is standard output."""
    if str(path) == "-":
        yield sys.stdout.buffer
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_gzip(path):
        with gzip.open(path, "wb", compresslevel=6) as stream:
            yield cast(IO[bytes], stream)
    else:
        with path.open("wb") as stream:
            yield stream


@contextmanager
def open_for_reading(path: Path) -> Iterator[IO[bytes]]:
    """The file, decompressed when it is gzip (by its name or its first bytes); ``-`` is
    standard input."""
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    with path.open("rb") as probe:
        magic = probe.read(2)
    if is_gzip(path) or magic == b"\x1f\x8b":
        with gzip.open(path, "rb") as stream:
            yield cast(IO[bytes], stream)
    else:
        with path.open("rb") as stream:
            yield stream
