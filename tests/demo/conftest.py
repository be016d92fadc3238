"""The real kale smoothie shop for the end-to-end tests, exporting to the test's server."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from breadcrumbs.demo.shop import Shop, head_sampling_env, start_shop

if TYPE_CHECKING:
    from tests.conftest import ServerProcess


@contextmanager
def running_shop(
    server: ServerProcess,
    state_dir: Path,
    scenarios: Iterable[str] = (),
    *,
    head_sampling: bool = False,
) -> Iterator[Shop]:
    """A shop on free ports with ``scenarios`` on, stopped on exit; with ``head_sampling``
    every service polls the server's sampling API (twice a second) for its strategy."""
    env = {"OTEL_BSP_SCHEDULE_DELAY": "200"}  # export within 0.2 s, not 5 s
    if head_sampling:
        env |= head_sampling_env(server.sampling_url, polling_interval_s=0.5)
    running = start_shop(
        otlp_endpoint=server.otlp_http_url,
        base_port=0,
        scenarios=list(scenarios),
        state_dir=state_dir,
        env=env,
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def shop(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """One healthy shop per module; tests switch scenarios at runtime."""
    with running_shop(server, tmp_path_factory.mktemp("shop")) as running:
        yield running
