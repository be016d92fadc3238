from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    get_current_span,
    set_span_in_context,
)

from breadcrumbs import sdk
from breadcrumbs.sdk import bootstrap

OTEL_VARS = (
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_TRACES_EXPORTER",
    "OTEL_PROPAGATORS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARS:
        monkeypatch.delenv(name, raising=False)


def test_init_is_idempotent(telemetry: sdk.Telemetry) -> None:
    again = sdk.init("another-name")
    assert again is telemetry
    assert telemetry.tracer_provider is not None
    resource = telemetry.tracer_provider.resource.attributes
    assert resource["service.name"] == "sdk-tests"
    assert resource["service.version"] == "9.9.9"
    assert resource["host.name"]


def test_resource_arguments_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = bootstrap._resource("shop", "1.0", "staging", {"team": "kale"}).attributes
    assert plain["service.name"] == "shop"
    assert plain["deployment.environment.name"] == "staging"
    assert plain["team"] == "kale"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=ops,region=eu")
    env = bootstrap._resource("shop", "1.0", None, {"team": "kale"}).attributes
    assert env["service.name"] == "from-env"
    assert env["team"] == "ops"
    assert env["region"] == "eu"
    assert env["service.version"] == "1.0"


def test_exporter_defaults_and_arguments() -> None:
    exporter, proto, url = bootstrap._exporter_from_env(None, None)
    assert isinstance(exporter, HttpExporter)
    assert (proto, url) == ("http/protobuf", "http://localhost:4318/v1/traces")
    exporter.shutdown()  # type: ignore[no-untyped-call]
    exporter, proto, url = bootstrap._exporter_from_env("http://127.0.0.1:1234", "http")
    assert url == "http://127.0.0.1:1234/v1/traces"
    assert exporter is not None
    exporter.shutdown()
    exporter, proto, url = bootstrap._exporter_from_env("http://127.0.0.1:4317", "grpc")
    assert isinstance(exporter, GrpcExporter)
    assert (proto, url) == ("grpc", "http://127.0.0.1:4317")
    exporter.shutdown()


def test_environment_wins_over_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:5555")
    exporter, proto, url = bootstrap._exporter_from_env("http://ignored:1", "http/protobuf")
    assert isinstance(exporter, GrpcExporter)
    assert (proto, url) == ("grpc", "http://127.0.0.1:5555")
    exporter.shutdown()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    exporter, _, _ = bootstrap._exporter_from_env(None, None)
    assert isinstance(exporter, ConsoleSpanExporter)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        bootstrap._exporter_from_env(None, None)


def _context() -> object:
    ctx = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return set_span_in_context(NonRecordingSpan(ctx))


@pytest.mark.parametrize(
    ("names", "header", "expected"),
    [
        (None, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        (["b3"], "b3", "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"),
        (["b3multi"], "x-b3-traceid", "0af7651916cd43dd8448eb211c80319c"),
        (["jaeger"], "uber-trace-id", "0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331:"),
    ],
)
def test_propagators_by_name(names: list[str] | None, header: str, expected: str) -> None:
    carrier: dict[str, str] = {}
    sdk.build_propagator(names).inject(carrier, context=_context())  # type: ignore[arg-type]
    assert carrier[header].startswith(expected)
    extracted = get_current_span(sdk.build_propagator(names).extract(carrier)).get_span_context()
    assert extracted.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert extracted.span_id == 0xB7AD6B7169203331


def test_unknown_propagator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown propagator"):
        sdk.build_propagator(["xray"])


def test_public_api_is_pinned() -> None:
    assert sdk.__all__ == [
        "JaegerRemoteSampler",
        "Telemetry",
        "ThirdParty",
        "Traced",
        "batch_consumer_span",
        "build_propagator",
        "consumer_span",
        "extract",
        "init",
        "inject",
        "producer_span",
        "third_party",
        "traced",
    ]
    assert all(hasattr(sdk, name) for name in sdk.__all__)
