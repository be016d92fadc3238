"""The ``breadcrumbs`` command: flags, and the client commands against a real server."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from typer.testing import CliRunner

from breadcrumbs import __version__
from breadcrumbs.cli import app, format_duration
from breadcrumbs.config import SETTING_NAMES

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_serve_has_a_flag_for_every_setting() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for name in SETTING_NAMES:
        assert "--" + name.replace("_", "-") in result.output
    assert "--config" in result.output


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["serve"], "[env: BREADCRUMBS_RETENTION]"),
        (["why"], "[default: entry spans]"),
        (["traces"], "[default: from BREADCRUMBS_HOST"),
    ],
)
def test_help_shows_bracketed_defaults_rich_would_take_for_markup(
    command: list[str], shown: str
) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert shown in result.output


def test_serve_refuses_bad_settings_before_starting() -> None:
    result = runner.invoke(app, ["serve", "--retention", "a fortnight"])
    assert result.exit_code == 2
    assert "not a duration" in result.output


@pytest.mark.parametrize("module", ["breadcrumbs", "breadcrumbs.cli"])
def test_python_dash_m_runs_the_command(module: str) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"breadcrumbs {__version__}"


def test_demo_commands_are_mounted() -> None:
    result = runner.invoke(app, ["demo", "--help"])
    assert result.exit_code == 0, result.output
    assert "run" in result.output
    assert "scenario" in result.output
    listed = runner.invoke(app, ["demo", "scenario", "set", "--help"])
    assert listed.exit_code == 0, listed.output


def test_client_commands_report_an_unreachable_server() -> None:
    result = runner.invoke(app, ["services", "--server", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "BREADCRUMBS_SERVER" in result.output  # says how to point it


@pytest.mark.e2e
def test_client_commands_find_the_server_from_the_serve_settings(
    server: ServerProcess, trace_id: str
) -> None:
    port = str(urlsplit(server.http_url).port)
    as_serve = CliRunner(
        env={"COLUMNS": "200", "BREADCRUMBS_SERVER": None, "BREADCRUMBS_HTTP_PORT": port}
    )
    result = as_serve.invoke(app, ["services"])
    assert result.exit_code == 0, result.output
    assert "cli-shop" in result.output
    elsewhere = CliRunner(env={"BREADCRUMBS_SERVER": None, "BREADCRUMBS_HTTP_PORT": "9"})
    assert elsewhere.invoke(app, ["services"]).exit_code == 2


@pytest.mark.parametrize(("us", "text"), [(850, "850µs"), (12_300, "12.3ms"), (1_520_000, "1.52s")])
def test_format_duration(us: float, text: str) -> None:
    assert format_duration(us) == text


def _send(server: ServerProcess, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
    response = httpx.post(
        server.otlp_http_url + "/v1/traces",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200


@pytest.fixture(scope="module")
def trace_id(server: ServerProcess) -> str:
    """A three-span trace of service ``cli-shop`` with an error in a child."""
    trace_bytes, root, child = os.urandom(16), os.urandom(8), os.urandom(8)
    now = time.time_ns()
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(
        key="service.name", value=common_pb2.AnyValue(string_value="cli-shop")
    )
    resource_spans.scope_spans.add().spans.extend(
        [
            trace_pb2.Span(
                trace_id=trace_bytes,
                span_id=root,
                name="GET /smoothie",
                kind=trace_pb2.Span.SPAN_KIND_SERVER,
                start_time_unix_nano=now - 250_000_000,
                end_time_unix_nano=now,
                attributes=[
                    common_pb2.KeyValue(
                        key="flavour", value=common_pb2.AnyValue(string_value="kale")
                    )
                ],
            ),
            trace_pb2.Span(
                trace_id=trace_bytes,
                span_id=child,
                parent_span_id=root,
                name="blend kale, spinach, banana and oat milk until smooth",
                start_time_unix_nano=now - 200_000_000,
                end_time_unix_nano=now - 50_000_000,
                status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR),
            ),
            trace_pb2.Span(
                trace_id=trace_bytes,
                span_id=os.urandom(8),
                parent_span_id=child,
                name="pour",
                start_time_unix_nano=now - 100_000_000,
                end_time_unix_nano=now - 60_000_000,
            ),
        ]
    )
    _send(server, request)
    server.wait_for_spans(trace_bytes.hex(), 3)
    return trace_bytes.hex()


@pytest.mark.e2e
def test_traces_errors_lists_only_traces_with_a_failed_span(
    server: ServerProcess, trace_id: str
) -> None:
    healthy = os.urandom(16)
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(
        key="service.name", value=common_pb2.AnyValue(string_value="cli-shop")
    )
    now = time.time_ns()
    resource_spans.scope_spans.add().spans.append(
        trace_pb2.Span(
            trace_id=healthy,
            span_id=os.urandom(8),
            name="GET /smoothie",
            kind=trace_pb2.Span.SPAN_KIND_SERVER,
            start_time_unix_nano=now - 10_000_000,
            end_time_unix_nano=now,
        )
    )
    _send(server, request)
    server.wait_for_spans(healthy.hex(), 1)

    every = runner.invoke(app, ["traces", "-s", "cli-shop", "--ids", "--server", server.http_url])
    assert every.exit_code == 0, every.output
    assert {trace_id, healthy.hex()} <= set(every.output.split())
    failed = runner.invoke(
        app, ["traces", "-s", "cli-shop", "--errors", "--ids", "--server", server.http_url]
    )
    assert failed.exit_code == 0, failed.output
    assert trace_id in failed.output.split()
    assert healthy.hex() not in failed.output.split()


def test_services_traces_and_trace(server: ServerProcess, trace_id: str) -> None:
    services = runner.invoke(app, ["services", "--server", server.http_url])
    assert services.exit_code == 0, services.output
    assert "cli-shop" in services.output

    found = runner.invoke(
        app,
        [
            "traces",
            "--service=cli-shop",
            "--tag=flavour=kale",
            "--min-duration=100ms",
            "--limit=5",
            f"--server={server.http_url}",
        ],
    )
    assert found.exit_code == 0, found.output
    assert trace_id in found.output
    assert "cli-shop: GET /smoothie" in found.output
    assert "250ms" in found.output

    nothing = runner.invoke(
        app, ["traces", "-s", "cli-shop", "-t", "flavour=mango", "--server", server.http_url]
    )
    assert nothing.exit_code == 0
    assert trace_id not in nothing.output

    shown = runner.invoke(app, ["trace", trace_id, "--server", server.http_url])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    root = next(line for line in lines if "GET /smoothie" in line)
    blend = next(line for line in lines if "blend" in line)
    pour = next(line for line in lines if "pour" in line)
    indent = [len(line) - len(line.lstrip()) for line in (root, blend, pour)]
    assert indent[0] < indent[1] < indent[2]  # the waterfall nests children under parents
    assert lines.index(root) < lines.index(blend) < lines.index(pour)

    # In a 60-column terminal every span still takes exactly one line, none wider than it.
    narrow = CliRunner(env={"COLUMNS": "60", "NO_COLOR": "1"}).invoke(
        app, ["trace", trace_id, "--server", server.http_url]
    )
    assert narrow.exit_code == 0, narrow.output
    rows = narrow.output.splitlines()[2:]
    assert len(rows) == 3, narrow.output
    assert all(len(row) <= 60 for row in rows), narrow.output
    assert [row.replace("✗", "").split()[0] for row in rows] == ["GET", "blend", "pour"]
    assert "✗" in rows[1]  # the failed span is marked in text, not by colour alone
    assert all("ms" in row for row in rows)  # offset and duration survive the squeeze

    missing = runner.invoke(app, ["trace", "ab" * 16, "--server", server.http_url])
    assert missing.exit_code == 1
    bad_tag = runner.invoke(
        app, ["traces", "-s", "x", "-t", "novalue", "--server", server.http_url]
    )
    assert bad_tag.exit_code == 2


@pytest.mark.e2e
def test_trace_ids_for_scripts_a_prefix_and_json(server: ServerProcess, trace_id: str) -> None:
    ids = runner.invoke(app, ["traces", "-s", "cli-shop", "--ids", "--server", server.http_url])
    assert ids.exit_code == 0, ids.output
    assert trace_id in ids.output.split()
    assert all(len(line) == 32 for line in ids.output.splitlines())  # nothing but ids

    as_json = runner.invoke(
        app, ["traces", "-s", "cli-shop", "--json", "--server", server.http_url]
    )
    assert as_json.exit_code == 0, as_json.output
    assert trace_id in [t["traceID"] for t in json.loads(as_json.output)["data"]]

    # a prefix, as copied from a terminal; the timeline takes the width of a wide terminal
    wide = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(
        app, ["trace", trace_id[:10], "--server", server.http_url]
    )
    assert wide.exit_code == 0, wide.output
    assert trace_id in wide.output
    root = next(line for line in wide.output.splitlines() if "GET /smoothie" in line)
    assert root.count("█") >= 100, wide.output  # the root's bar spans the timeline
    assert len(root.rstrip()) <= 200

    # at 80 columns the failed span count is still there, in text
    listed = CliRunner(env={"COLUMNS": "80", "NO_COLOR": "1"}).invoke(
        app, ["traces", "-s", "cli-shop", "--server", server.http_url]
    )
    row = next(line for line in listed.output.splitlines() if trace_id in line)
    assert row.rstrip().endswith("3 ✗1"), listed.output
    assert all(len(line) <= 80 for line in listed.output.splitlines())

    shown = runner.invoke(app, ["trace", trace_id, "--json", "--server", server.http_url])
    assert json.loads(shown.output)["data"][0]["traceID"] == trace_id
