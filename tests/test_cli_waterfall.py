"""The ``trace`` waterfall rendered from a Jaeger-shaped trace: errors marked in text with
what went wrong, the critical path marked, every line within the terminal's width."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from breadcrumbs.cli.traces import error_details, waterfall

STACK = 'Traceback:\n  File "/app/payment.py", line 24, in per_item_charge\nZeroDivisionError'


def _trace() -> dict[str, Any]:
    def span(
        span_id: str, parent: str | None, name: str, start: int, duration: int, **extra: Any
    ) -> dict[str, Any]:
        refs = [{"refType": "CHILD_OF", "spanID": parent}] if parent else []
        return {
            "spanID": span_id,
            "operationName": name,
            "references": refs,
            "startTime": start,
            "duration": duration,
            "processID": "p1",
            "tags": extra.get("tags", []),
            "logs": extra.get("logs", []),
        }

    error = [{"key": "error", "type": "bool", "value": True}]
    return {
        "traceID": "ab" * 16,
        "processes": {"p1": {"serviceName": "payment"}},
        "spans": [
            span(
                "a",
                None,
                "POST /charge",
                0,
                1000,
                tags=[
                    *error,
                    {"key": "http.response.status_code", "value": 500},
                ],
            ),
            span(
                "b",
                "a",
                "per_item_charge",
                100,
                200,
                tags=[
                    *error,
                    {
                        "key": "otel.status_description",
                        "value": "ZeroDivisionError: division by zero",
                    },
                ],
                logs=[
                    {
                        "timestamp": 300,
                        "fields": [
                            {"key": "event", "value": "exception"},
                            {"key": "exception.type", "value": "ZeroDivisionError"},
                            {"key": "exception.message", "value": "division by zero"},
                            {"key": "exception.stacktrace", "value": STACK},
                        ],
                    }
                ],
            ),
            span("c", "a", "SELECT", 400, 100),
        ],
    }


def _render(width: int, critical: frozenset[str] = frozenset()) -> list[str]:
    console = Console(width=width, no_color=True, record=True)
    console.print(waterfall(_trace(), available=width, critical=critical))
    return console.export_text().splitlines()


def test_error_details_name_the_exception_frame_and_status_once() -> None:
    spans = _trace()["spans"]
    assert error_details(spans[1]) == (
        "ZeroDivisionError: division by zero at per_item_charge (payment.py:24)"
    )
    assert error_details(spans[0]) == "HTTP 500"
    assert error_details(spans[2]) == ""


@pytest.mark.parametrize("width", [60, 100, 200])
def test_lines_fit_and_errors_are_marked_in_text(width: int) -> None:
    lines = _render(width)
    spans = [line for line in lines[1:] if "█" in line]
    assert len(spans) == 3
    assert all(len(line) <= width for line in spans)
    assert "✗" in spans[0]
    assert "✗" in spans[1]
    assert "✗" not in spans[2]
    details = "\n".join(line for line in lines if "↳" in line or not line.startswith(" " * 4))
    assert "ZeroDivisionError" in details
    # the timeline takes the width the other columns leave: the root's bar reaches the edge
    assert len(spans[0].rstrip()) == width


def test_the_critical_path_is_marked() -> None:
    lines = _render(120, critical=frozenset({"a", "b"}))
    marked = [line for line in lines if line.startswith("◆")]
    assert len(marked) == 2
    assert "SELECT" not in "".join(marked)
