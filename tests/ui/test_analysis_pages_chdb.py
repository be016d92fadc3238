"""The services (RED) page once more, on the ClickHouse engine (chDB in the server process,
``--store chdb``): RED small multiples and operations from ClickHouse's RED table."""

from __future__ import annotations

import pytest
from tests.ui.test_analysis_pages import sent, test_services_page_shows_red_and_leads_to_why

pytestmark = pytest.mark.e2e

SERVER_ARGS = ("--store", "chdb")

__all__ = ["sent", "test_services_page_shows_red_and_leads_to_why"]
