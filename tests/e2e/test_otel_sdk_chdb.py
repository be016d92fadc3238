"""The OpenTelemetry SDK end-to-end cases once more, on the ClickHouse engine (chDB in the
server process, ``--store chdb``): real exporters -> server -> Jaeger API."""

from __future__ import annotations

import pytest
from tests.e2e.test_otel_sdk import (
    test_home_page_serves_the_web_ui,
    test_sdk_trace_round_trips_through_the_jaeger_api,
)

pytestmark = pytest.mark.e2e

SERVER_ARGS = ("--store", "chdb")

__all__ = ["test_home_page_serves_the_web_ui", "test_sdk_trace_round_trips_through_the_jaeger_api"]
