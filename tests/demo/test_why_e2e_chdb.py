"""The ``why`` end-to-end cases once more, on the ClickHouse engine (chDB in the server
process, ``--store chdb``): the shop's slow traces explained from the ClickHouse reads."""

from __future__ import annotations

import pytest
from tests.demo.test_why_e2e import (
    test_cache_lock_contention_points_at_the_lock_wait,
    test_slow_db_points_at_large_orders_and_the_cargo_select,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVER_ARGS = ("--store", "chdb")

__all__ = [
    "test_cache_lock_contention_points_at_the_lock_wait",
    "test_slow_db_points_at_large_orders_and_the_cargo_select",
]
