"""One in-memory exporter behind the process-wide tracer provider (it can be set once)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from breadcrumbs import sdk

_memory = InMemorySpanExporter()


@pytest.fixture(scope="session")
def telemetry() -> sdk.Telemetry:
    handle = sdk.init("sdk-tests", service_version="9.9.9", exporter=_memory, batch=False)
    provider = trace.get_tracer_provider()
    if handle.exporter is not _memory and isinstance(provider, TracerProvider):
        # Someone else's provider came first in this process: listen to it too.
        provider.add_span_processor(SimpleSpanProcessor(_memory))
    return handle


@pytest.fixture
def spans(telemetry: sdk.Telemetry) -> Iterator[InMemorySpanExporter]:
    _memory.clear()
    yield _memory
    _memory.clear()
