"""The service map once more, on the ClickHouse engine (chDB in the server process,
``--store chdb``): the weighted service graph from ClickHouse's call rows."""

from __future__ import annotations

import pytest
from tests.ui.test_browser import sent, test_service_map_draws_the_call_and_clicking_searches

pytestmark = pytest.mark.e2e

SERVER_ARGS = ("--store", "chdb")

__all__ = ["sent", "test_service_map_draws_the_call_and_clicking_searches"]
