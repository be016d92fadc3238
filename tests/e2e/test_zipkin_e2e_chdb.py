"""The Zipkin client end-to-end cases once more, on the ClickHouse engine (``--store chdb``)."""

from __future__ import annotations

import pytest
from tests.e2e.test_zipkin_e2e import test_py_zipkin_round_trips

pytestmark = pytest.mark.e2e

SERVER_ARGS = ("--store", "chdb")

__all__ = ["test_py_zipkin_round_trips"]
