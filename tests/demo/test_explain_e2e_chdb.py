"""The ``explain`` end-to-end cases once more, on the ClickHouse engine (chDB in the server
process, ``--store chdb``)."""

from __future__ import annotations

import pytest
from tests.demo.test_explain_e2e import (
    test_cascade,
    test_payment_div_zero,
    test_third_party_timeout,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVER_ARGS = ("--store", "chdb")

__all__ = ["test_cascade", "test_payment_div_zero", "test_third_party_timeout"]
