"""The doctor's end-to-end cases once more, on the ClickHouse engine (chDB in the server
process, ``--store chdb``): the same findings from the ClickHouse profile reads."""

from __future__ import annotations

import pytest
from tests.demo.test_doctor_e2e import (
    shop,
    test_healthy_instrumentation_raises_no_alarm,
    test_names_the_broken_propagation_and_the_bad_span_names,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVER_ARGS = ("--store", "chdb")

__all__ = [
    "shop",
    "test_healthy_instrumentation_raises_no_alarm",
    "test_names_the_broken_propagation_and_the_bad_span_names",
]
