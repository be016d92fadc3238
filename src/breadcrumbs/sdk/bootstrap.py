"""`init()`: one call that wires the OpenTelemetry SDK to breadcrumbs.

Precedence everywhere: the standard ``OTEL_*`` environment variables, then the arguments,
then our defaults (OTLP over HTTP to localhost:4318, W3C tracecontext + baggage). The
operator's environment wins over the code so one build can be pointed anywhere.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from opentelemetry import propagate, trace
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler
from opentelemetry.util.types import AttributeValue

from breadcrumbs.sdk.remote_sampler import JaegerRemoteSampler, from_sampler_arg

__all__ = ["Protocol", "Telemetry", "build_propagator", "init"]

log = logging.getLogger(__name__)

Protocol = Literal["grpc", "http/protobuf"]

DEFAULT_ENDPOINTS: dict[str, str] = {
    "grpc": "http://localhost:4317",
    "http/protobuf": "http://localhost:4318",
}
DEFAULT_PROPAGATORS = ("tracecontext", "baggage")


@dataclass
class Telemetry:
    """What `init()` set up. `shutdown()` flushes every pending span and stops exporting."""

    service_name: str
    tracer_provider: TracerProvider | None
    exporter: SpanExporter | None
    protocol: str | None
    endpoint: str | None
    propagator: TextMapPropagator
    remote_sampler: JaegerRemoteSampler | None = None  # polls breadcrumbs until shutdown
    _stopped: bool = field(default=False, repr=False)

    def tracer(self, name: str, version: str | None = None) -> trace.Tracer:
        if self.tracer_provider is None:
            return trace.NoOpTracer()
        return self.tracer_provider.get_tracer(name, version)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        if self.tracer_provider is None or self._stopped:
            return True
        return self.tracer_provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush and stop. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.remote_sampler is not None:
            self.remote_sampler.close()


_lock = threading.Lock()
_current: Telemetry | None = None


def init(
    service_name: str,
    *,
    service_version: str | None = None,
    environment: str | None = None,
    endpoint: str | None = None,
    protocol: Protocol | Literal["http"] | None = None,
    propagators: Sequence[str] | None = None,
    resource_attributes: Mapping[str, AttributeValue] | None = None,
    exporter: SpanExporter | None = None,
    batch: bool = True,
    sampling: str | Sampler | None = None,
) -> Telemetry:
    """Set the global tracer provider and propagator; return a handle to flush and stop.

    Idempotent: a second call returns the first handle unchanged (the global provider can
    be set once per process), with a warning if it asked for another service name.

    - ``endpoint``: the OTLP base URL (``http://host:4318`` or ``http://host:4317``);
      ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` win over it.
    - ``protocol``: ``"grpc"`` or ``"http/protobuf"`` (``"http"`` accepted);
      ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL`` win.
    - ``propagators``: names among tracecontext, baggage, b3, b3multi, jaeger, none;
      ``OTEL_PROPAGATORS`` wins.
    - ``exporter``: any SpanExporter instead of OTLP (tests pass an in-memory one);
      ``OTEL_TRACES_EXPORTER=console|none`` also replaces OTLP.
    - ``sampling``: head sampling decided by breadcrumbs: the URL of its sampling API
      (``http://localhost:5778`` or ``http://localhost:16686/api/sampling``) for a
      parent-based ``JaegerRemoteSampler``, or any Sampler. ``OTEL_TRACES_SAMPLER`` wins:
      ``parentbased_jaeger_remote`` / ``jaeger_remote`` with ``OTEL_TRACES_SAMPLER_ARG=
      endpoint=...,pollingIntervalMs=...,initialSamplingRate=...`` build the same sampler;
      the other values are read by the SDK itself. Default: keep every trace.
    - ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` win over the arguments;
      ``OTEL_SDK_DISABLED=true`` returns a handle that records nothing;
      ``OTEL_BSP_*`` are read by the SDK itself.
    """
    global _current
    with _lock:
        if _current is not None:
            if _current.service_name != _effective_service_name(service_name):
                log.warning(
                    "breadcrumbs.sdk.init() already ran for %r; ignoring %r",
                    _current.service_name,
                    service_name,
                )
            return _current
        propagator = build_propagator(_env_list("OTEL_PROPAGATORS") or propagators)
        propagate.set_global_textmap(propagator)
        name = _effective_service_name(service_name)
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            _current = Telemetry(name, None, None, None, None, propagator)
            return _current

        resource = _resource(name, service_version, environment, resource_attributes)
        sampler, remote = _sampler(name, sampling)
        provider = TracerProvider(resource=resource, sampler=sampler)
        proto: str | None = None
        url: str | None = None
        if exporter is None:
            exporter, proto, url = _exporter_from_env(endpoint, protocol)
        if exporter is not None:
            processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _current = Telemetry(name, provider, exporter, proto, url, propagator, remote)
        return _current


def _sampler(
    service_name: str, sampling: str | Sampler | None
) -> tuple[Sampler | None, JaegerRemoteSampler | None]:
    """The head sampler (None lets the SDK read ``OTEL_TRACES_SAMPLER``; default: all) and
    the remote sampler inside it, if any."""
    from_env = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if from_env in ("jaeger_remote", "parentbased_jaeger_remote"):
        arg = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "")
        remote = from_sampler_arg(service_name, arg)
        return (ParentBased(remote) if from_env.startswith("parent") else remote), remote
    if from_env or sampling is None:
        return None, None
    if isinstance(sampling, Sampler):
        return sampling, sampling if isinstance(sampling, JaegerRemoteSampler) else None
    remote = JaegerRemoteSampler(service_name, sampling)
    return ParentBased(remote), remote


def _effective_service_name(service_name: str) -> str:
    env = OTELResourceDetector().detect().attributes.get("service.name")
    return str(env) if env else service_name


def _env_list(name: str) -> list[str] | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    return [p.strip().lower() for p in raw.split(",") if p.strip()]


def _resource(
    service_name: str,
    service_version: str | None,
    environment: str | None,
    extra: Mapping[str, AttributeValue] | None,
) -> Resource:
    defaults: dict[str, AttributeValue] = {
        "service.name": service_name,
        "host.name": socket.gethostname(),
        "process.pid": os.getpid(),
    }
    if service_version:
        defaults["service.version"] = service_version
    if environment:
        # The current semconv key, and the older one that Jaeger-era tools still read.
        defaults["deployment.environment.name"] = environment
        defaults["deployment.environment"] = environment
    defaults.update(extra or {})
    from_env = OTELResourceDetector().detect().attributes
    # Resource.create merges the environment first and our attributes on top; drop ours
    # where the environment speaks, so the environment wins.
    return Resource.create({k: v for k, v in defaults.items() if k not in from_env})


def _exporter_from_env(
    endpoint: str | None, protocol: str | None
) -> tuple[SpanExporter | None, str | None, str | None]:
    kind = (_env_list("OTEL_TRACES_EXPORTER") or ["otlp"])[0]
    if kind == "none":
        return None, None, None
    if kind == "console":
        return ConsoleSpanExporter(), None, None
    if kind != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={kind!r} is not one of otlp, console, none")
    proto = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or protocol
        or "http/protobuf"
    ).strip()
    if proto == "http":
        proto = "http/protobuf"
    env_endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if proto == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        url = None if env_endpoint else (endpoint or DEFAULT_ENDPOINTS["grpc"])
        insecure = None if url is None else url.startswith("http://")
        return GrpcExporter(endpoint=url, insecure=insecure), proto, url or env_endpoint
    if proto == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        url = None
        if not env_endpoint:
            base = (endpoint or DEFAULT_ENDPOINTS["http/protobuf"]).rstrip("/")
            url = base if base.endswith("/v1/traces") else base + "/v1/traces"
        return HttpExporter(endpoint=url), proto, url or env_endpoint
    raise ValueError(f"unsupported OTLP protocol {proto!r}: use grpc or http/protobuf")


def build_propagator(names: Sequence[str] | None) -> TextMapPropagator:
    """A composite propagator from names (tracecontext, baggage, b3, b3multi, jaeger, none)."""
    chosen = list(names) if names else list(DEFAULT_PROPAGATORS)
    parts: list[TextMapPropagator] = []
    for name in chosen:
        key = name.strip().lower()
        if key == "none":
            continue
        parts.append(_propagator(key))
    return CompositePropagator(parts)


def _propagator(name: str) -> TextMapPropagator:
    if name == "tracecontext":
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        return TraceContextTextMapPropagator()
    if name == "baggage":
        from opentelemetry.baggage.propagation import W3CBaggagePropagator

        return W3CBaggagePropagator()
    if name in ("b3", "b3single"):
        from opentelemetry.propagators.b3 import B3SingleFormat

        return B3SingleFormat()
    if name == "b3multi":
        from opentelemetry.propagators.b3 import B3MultiFormat

        return B3MultiFormat()
    if name == "jaeger":
        from opentelemetry.propagators.jaeger import JaegerPropagator

        return JaegerPropagator()
    raise ValueError(f"unknown propagator {name!r}: use tracecontext, baggage, b3, b3multi, jaeger")
