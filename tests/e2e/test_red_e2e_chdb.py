"""The RED end-to-end cases once more, on the ClickHouse engine (chDB in the server process,
``--store chdb``): real SDK exporters -> the span metrics stage -> ClickHouse's RED table ->
the native, Jaeger and Prometheus APIs and ``top``; a SIGKILL and its replay count once."""

from __future__ import annotations

import pytest
from tests.e2e.test_red_e2e import (
    test_prometheus_spanmetrics_with_exemplars,
    test_red_apis_count_what_the_sdk_sent,
    test_sigkill_and_replay_do_not_double_count,
    test_top_names_failing_operations_in_text,
    test_zipkin_shared_span_is_one_call_on_both_dependencies_apis,
)

pytestmark = pytest.mark.e2e

SERVER_ARGS = ("--store", "chdb")

__all__ = [
    "test_prometheus_spanmetrics_with_exemplars",
    "test_red_apis_count_what_the_sdk_sent",
    "test_sigkill_and_replay_do_not_double_count",
    "test_top_names_failing_operations_in_text",
    "test_zipkin_shared_span_is_one_call_on_both_dependencies_apis",
]
