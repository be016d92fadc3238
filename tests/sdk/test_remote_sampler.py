"""The Python SDK's Jaeger remote sampler against a real ``breadcrumbs serve``: strategies
from a file and from adaptive rates, fallbacks when the server is away, and the tracestate
threshold every kept span records."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased

from breadcrumbs.sampling import threshold
from breadcrumbs.sdk import JaegerRemoteSampler, bootstrap
from breadcrumbs.sdk.remote_sampler import from_sampler_arg, strategy_url

if TYPE_CHECKING:
    from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

WAIT_S = 30.0  # generous for a loaded 2-core CI machine
STRATEGIES = {
    "default_strategy": {"type": "probabilistic", "param": 1.0},
    "service_strategies": [
        {
            "service": "checkout",
            "type": "probabilistic",
            "param": 0.25,
            "operation_strategies": [
                {"operation": "POST /pay", "type": "probabilistic", "param": 1.0},
                {"operation": "GET /health", "type": "probabilistic", "param": 0.0},
            ],
        },
        {"service": "search", "type": "ratelimiting", "param": 10},
    ],
}


def _poll_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.conftest import ServerProcess

    root = tmp_path_factory.mktemp("remote-sampler")
    strategies = root / "strategies.json"
    strategies.write_bytes(orjson.dumps(STRATEGIES))
    server = ServerProcess(root / "data", extra_args=("--sampling-strategies", str(strategies)))
    server.start()
    yield server
    server.stop()


def _tracer_provider(
    service: str, sampler: JaegerRemoteSampler
) -> tuple[TracerProvider, InMemorySpanExporter]:
    sink = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), sampler=ParentBased(sampler)
    )
    provider.add_span_processor(SimpleSpanProcessor(sink))
    return provider, sink


def _threshold_of(span: ReadableSpan) -> int | None:
    assert span.context is not None
    return threshold.from_ot_value(span.context.trace_state.get("ot") or "")


def test_per_operation_probabilities_from_the_server(file_server: ServerProcess) -> None:
    sampler = JaegerRemoteSampler(
        "checkout", file_server.sampling_url, polling_interval_s=0.5, initial_probability=0.0
    )
    try:
        assert sampler.fetched.wait(WAIT_S), "no strategy fetched"
        provider, sink = _tracer_provider("checkout", sampler)
        tracer = provider.get_tracer("test")
        roots = 4000
        for _ in range(roots):
            with tracer.start_as_current_span("GET /menu"), tracer.start_as_current_span("db"):
                pass
        for _ in range(50):
            with tracer.start_as_current_span("POST /pay"):
                pass
            with tracer.start_as_current_span("GET /health"):
                pass
        by_name: dict[str, list[ReadableSpan]] = {}
        for span in sink.get_finished_spans():
            by_name.setdefault(span.name, []).append(span)
        kept = len(by_name["GET /menu"])
        assert abs(kept - roots * 0.25) < 6 * (roots * 0.25 * 0.75) ** 0.5  # 6 sigma
        assert len(by_name["db"]) == kept  # children follow their root (ParentBased)
        assert len(by_name["POST /pay"]) == 50
        assert "GET /health" not in by_name
        # Every kept span says the probability it was kept at: th for p = 1/4 is "c".
        assert {s.context.trace_state.get("ot") for s in by_name["GET /menu"] if s.context} == {
            "th:c"
        }
        assert {_threshold_of(s) for s in by_name["db"]} == {threshold.threshold(0.25)}
        assert {_threshold_of(s) for s in by_name["POST /pay"]} == {0}
    finally:
        sampler.close()


def test_rate_limiting_caps_traces_per_second(file_server: ServerProcess) -> None:
    sampler = JaegerRemoteSampler("search", file_server.http_url + "/api/sampling")
    try:
        assert sampler.fetched.wait(WAIT_S)
        provider, sink = _tracer_provider("search", sampler)
        tracer = provider.get_tracer("test")
        started = time.monotonic()
        for _ in range(3000):
            with tracer.start_as_current_span("query"):
                pass
        elapsed = time.monotonic() - started
        kept = sink.get_finished_spans()
        assert 1 <= len(kept) <= 10 + 10 * elapsed + 1
        # The decisions after the first second carry the probability they amounted to.
        probabilities = [threshold.probability(t) for s in kept if (t := _threshold_of(s))]
        assert all(0 < p < 1 for p in probabilities)
    finally:
        sampler.close()


def test_the_initial_rate_holds_until_the_server_answers_and_the_last_strategy_after(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    strategies = tmp_path / "strategies.json"
    strategies.write_bytes(orjson.dumps(STRATEGIES))
    server = server_factory(None, "--sampling-strategies", str(strategies))
    sampler = JaegerRemoteSampler(
        "checkout", server.sampling_url, polling_interval_s=0.2, initial_probability=1.0
    )
    try:
        assert not sampler.update()  # nobody listens yet
        assert not sampler.fetched.is_set()
        provider, sink = _tracer_provider("checkout", sampler)
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("GET /health"):  # initial p = 1 keeps it
            pass
        assert [_threshold_of(s) for s in sink.get_finished_spans()] == [0]
        server.start()
        _poll_until(lambda: sampler.strategy is not None, "the first strategy")
        server.stop()
        time.sleep(0.5)  # a few failed polls
        assert sampler.fetched.is_set()  # the last strategy stays in force
        sink.clear()
        with tracer.start_as_current_span("GET /health"):  # p = 0 from the server
            pass
        assert sink.get_finished_spans() == ()
    finally:
        sampler.close()


def test_adaptive_rates_reach_the_sdk_and_thin_a_busy_operation(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(
        None, "--sampling-adaptive", "--sampling-target-tps", "5", "--sampling-interval", "1s"
    ).start()
    sampler = JaegerRemoteSampler("shop", server.sampling_url, polling_interval_s=0.5)
    exporter = OTLPSpanExporter(endpoint=server.otlp_http_url + "/v1/traces")
    provider = TracerProvider(
        resource=Resource.create({"service.name": "shop"}), sampler=ParentBased(sampler)
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")

    def served() -> float | None:
        body = httpx.get(f"{server.http_url}/api/sampling", params={"service": "shop"}).json()
        for op in body["operationSampling"]["perOperationStrategies"]:
            if op["operation"] == "GET /menu":
                return float(op["probabilisticSampling"]["samplingRate"])
        return None

    try:
        assert sampler.fetched.wait(WAIT_S)
        deadline = time.monotonic() + 60
        while (p := served()) is None or p > 0.5:  # hundreds of requests a second, target 5
            assert time.monotonic() < deadline, f"the rate did not come down: {p}"
            for _ in range(100):
                with tracer.start_as_current_span("GET /menu"):
                    pass
        assert p is not None
        assert p >= 1e-5
        _poll_until(
            lambda: (
                (s := sampler.strategy) is not None
                and s.per_operation is not None
                and s.per_operation.probability("GET /menu") < 1
            ),
            "the SDK to pick the adaptive rate up",
        )
    finally:
        sampler.close()
        provider.shutdown()


def test_sampler_arguments_as_the_specification_names_them() -> None:
    sampler = from_sampler_arg(
        "checkout",
        "endpoint=http://127.0.0.1:9/api/sampling,pollingIntervalMs=250,initialSamplingRate=0.5",
    )
    try:
        assert sampler.url == "http://127.0.0.1:9/api/sampling?service=checkout"
        assert sampler.polling_interval_s == 0.25
        assert sampler.initial_probability == 0.5
    finally:
        sampler.close()
    for bad, message in [
        ("endpoint", "is not key=value"),
        ("pollingIntervalMs=soon", "OTEL_TRACES_SAMPLER_ARG"),
        ("rate=0.5", "unknown option 'rate'"),
        ("endpoint=ftp://x", "is not an http"),
    ]:
        with pytest.raises(ValueError, match=message):
            from_sampler_arg("checkout", bad)


def test_urls_get_the_sampling_path_and_the_service() -> None:
    assert strategy_url("http://h:5778", "a b") == "http://h:5778/sampling?service=a+b"
    assert strategy_url("http://h:16686/api/sampling", "x") == (
        "http://h:16686/api/sampling?service=x"
    )


def test_bootstrap_builds_the_remote_sampler_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "endpoint=http://127.0.0.1:9")
    sampler, remote = bootstrap._sampler("shop", None)
    assert isinstance(sampler, ParentBased)
    assert remote is not None
    assert remote.url == "http://127.0.0.1:9/sampling?service=shop"
    remote.close()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "traceidratio")  # the SDK's own: left to it
    assert bootstrap._sampler("shop", "http://127.0.0.1:9") == (None, None)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER")
    sampler, remote = bootstrap._sampler("shop", "http://127.0.0.1:9")
    assert isinstance(sampler, ParentBased)
    assert remote is not None
    remote.close()
    assert bootstrap._sampler("shop", None) == (None, None)
