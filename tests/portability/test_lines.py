"""OTLP JSON lines: a batch written and read back is the same batch, in every field."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from tests.store import world

from breadcrumbs.errors import BadInput
from breadcrumbs.model import concat_batches
from breadcrumbs.portability.lines import (
    decode_lines,
    encode_lines,
    open_for_reading,
    open_for_writing,
)

from .spans import rows


def test_world_round_trips_through_lines(tmp_path: Path) -> None:
    batch = world.world_batch()
    path = tmp_path / "spans.jsonl"
    with open_for_writing(path) as stream:
        for line in encode_lines(batch, spans_per_line=4):
            stream.write(line)
    assert len(path.read_bytes().splitlines()) == -(-batch.num_rows // 4)
    with open_for_reading(path) as stream:
        lines = list(decode_lines(stream))
    assert all(line.rejected == 0 for line in lines)
    assert rows(concat_batches([line.spans for line in lines])) == rows(batch)


def test_each_line_is_otlp_json_traces_data(tmp_path: Path) -> None:
    """What the Collector's otlpjsonfile receiver reads: a TracesData per line, hex ids."""
    line = next(encode_lines(world.world_batch()))
    document = orjson.loads(line)
    parsed = json_format.ParseDict(document, TracesData(), ignore_unknown_fields=False)
    assert parsed.resource_spans
    first_span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first_span["traceId"]) == 32
    assert len(first_span["spanId"]) == 16


def test_gzip_by_name_and_by_content(tmp_path: Path) -> None:
    batch = world.world_batch()
    packed = tmp_path / "spans.jsonl.gz"
    with open_for_writing(packed) as stream:
        for line in encode_lines(batch):
            stream.write(line)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    renamed = tmp_path / "spans.backup"
    renamed.write_bytes(packed.read_bytes())
    for path in (packed, renamed):
        with open_for_reading(path) as stream:
            assert rows(*(line.spans for line in decode_lines(stream))) == rows(batch)


def test_a_collector_file_exporter_line_is_read(tmp_path: Path) -> None:
    """A line as the Collector's file exporter writes it (pdata's JSON: enum integers, int64
    as strings, blank lines between flushes ignored)."""
    line = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "io.opentelemetry.http", "version": "1.2"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "GET /cart",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000250000000",
                                "attributes": [
                                    {
                                        "key": "http.response.status_code",
                                        "value": {"intValue": "503"},
                                    }
                                ],
                                "status": {"code": 2, "message": "upstream"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "collector.json"
    path.write_bytes(orjson.dumps(line) + b"\n\n" + orjson.dumps(line) + b"\n")
    with open_for_reading(path) as stream:
        lines = list(decode_lines(stream))
    assert [line.number for line in lines] == [1, 3]
    span = lines[0].spans.to_pylist()[0]
    assert span["ServiceName"] == "checkout"
    assert span["Duration"] == 250_000_000
    assert span["SpanAttributes"] == [("http.response.status_code", "503")]
    assert span["SpanAttributeTypes"] == "i"
    assert (span["StatusCode"], span["StatusMessage"]) == (2, "upstream")


def test_a_torn_line_names_its_number(tmp_path: Path) -> None:
    path = tmp_path / "torn.jsonl"
    good = next(encode_lines(world.world_batch()))
    path.write_bytes(good + good[: len(good) // 2])
    with open_for_reading(path) as stream, pytest.raises(BadInput, match="line 2"):
        list(decode_lines(stream))


def test_gzip_stream_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    with open_for_writing(path) as stream:
        stream.write(b"{}\n")
    assert gzip.decompress(path.read_bytes()) == b"{}\n"
