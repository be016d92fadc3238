"""Zipkin v2 (JSON and proto3 ``ListOfSpans``) ⇄ the canonical span batch.

The mapping follows the OpenTelemetry Zipkin conventions: the Collector's
``pkg/translator/zipkin/zipkinv2`` (``to_translator.go`` in, ``from_translator.go`` out) and
the specification page ``trace/sdk_exporters/zipkin.md``.

Zipkin → canonical (``decode_json`` / ``decode_proto``)
    - ``localEndpoint.serviceName`` → ``ServiceName`` and resource ``service.name`` (or the
      key named by an ``otlp.service.name.source`` tag); absent → ``unknown_service`` with no
      resource ``service.name``. Tags that are resource semantic conventions (``host.name``,
      ``telemetry.sdk.*``, ...) move to the resource, as the translator does.
    - ``localEndpoint`` ip/port → span attributes ``net.host.ip`` / ``net.host.port`` (int);
      ``remoteEndpoint`` serviceName/ip/port → ``peer.service`` / ``net.peer.ip`` /
      ``net.peer.port`` (int). An explicit tag of the same name wins (spec). IPv4 is preferred
      when an endpoint has both addresses; invalid addresses are ignored, as Zipkin does.
    - ``kind`` → ``SpanKind``; no kind → UNSPECIFIED, or the kind a ``span.kind`` tag names
      (the translator knows only ``internal``; we accept every kind name).
    - tags → ``SpanAttributes`` as strings, except those that carry span fields:
      ``otel.status_code`` (``OK``/``ERROR``, with or without ``STATUS_CODE_``) and
      ``otel.status_description`` → status; ``error`` (any value but ``false``) → status
      ERROR, its value the message unless it is ``true`` or empty; ``otel.scope.name`` /
      ``otel.scope.version`` (or the older ``otel.library.*``) → scope; ``w3c.tracestate`` →
      ``TraceState``; ``otlp.link.N`` (``trace|span|state|json|dropped``) → ``Links``.
    - annotations → ``Events``: the value is the event name, or ``name|{json}|dropped`` as the
      translator writes events with attributes, or ``{"name": {json}}`` as the spec and the
      OpenTelemetry SDK exporters write them (only when it parses as exactly that).
    - ``timestamp`` / ``duration`` µs → ns. No timestamp: start 0 and the bool attribute
      ``otel.zipkin.absentField.startTime`` (the translator's convention).
    - ids: lowercase hex, 64-bit trace ids left-padded to 32 hex; ids shorter than 16 (or
      between 16 and 32) hex are left-padded first, as Zipkin's ``normalizeTraceId`` does.
      A ``parentId`` equal to the span's own id, or all zeros, means a root.
    - ``shared: true`` (a server half that reuses the client's span id) is kept as its own
      span, marked with the bool attribute ``zipkin.shared`` (``SHARED_KEY``). The query
      side must therefore treat (TraceId, SpanId) as unique only together with that mark:
      dedupe on (TraceId, SpanId, SpanKind, zipkin.shared), never on the id alone (or give
      the shared half a fresh id at query time, as Jaeger's ZipkinSpanIDUniquifier does).
    - service and span names are kept as sent (Zipkin's server lowercases them; the
      translator does not), so the Zipkin query API should match them case-insensitively.
    - ``debug: true`` → the bool attribute ``zipkin.debug`` (``DEBUG_KEY``).

    A span with a bad or missing id, a wrong JSON type in a known field, or an absurd time
    (negative, or past what int64 nanoseconds hold) is rejected and counted; the others are
    kept. A body that is not a JSON list, or not a parseable ``ListOfSpans``, raises
    ``BadInput``. ``DecodeLimits`` are applied per span as ``codec/base.py`` describes.

canonical → Zipkin (``to_zipkin_spans``, for the Zipkin query API)
    The reverse: ids as 32 hex (Zipkin accepts 128-bit ids everywhere; a trace id whose
    upper half is zero is still written in 32 hex so every API spells an id one way),
    ``parentId`` only for children, ``kind`` omitted for INTERNAL (tagged ``span.kind:
    internal``) and UNSPECIFIED, µs integer times (a non-zero sub-µs duration becomes 1 µs),
    endpoints from the attributes above (``remoteEndpoint.serviceName`` falls back to
    ``server.address`` and the spec's ranking for CLIENT and PRODUCER spans), resource and
    span attributes as string tags (the stored value text: ints as digits, bools
    ``true``/``false``, arrays as JSON), status as ``otel.status_code`` plus ``error`` (the
    description, per the spec) and ``otel.status_description`` (for the translator), scope
    as ``otel.scope.name`` / ``otel.scope.version``, events as annotations, links as
    ``otlp.link.N`` tags, and ``shared`` / ``debug`` from their marks. A remote endpoint
    known only by its port is kept (the translator drops it) so output decodes back to the
    same spans.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import pyarrow as pa
from google.protobuf.message import DecodeError
from py_zipkin.encoding.protobuf import zipkin_pb2

from breadcrumbs.codec.base import (
    DROPPED_ATTRIBUTES_KEY,
    DROPPED_EVENTS_KEY,
    DROPPED_LINKS_KEY,
    TRUNCATED_KEY,
    DecodeLimits,
    DecodeResult,
)
from breadcrumbs.errors import BadInput
from breadcrumbs.model import (
    COLUMNS,
    SPAN_SCHEMA,
    UNKNOWN_SERVICE,
    SpanBatch,
    SpanKind,
    StatusCode,
    decode_attributes,
    normalize_span_id,
    normalize_trace_id,
)

__all__ = [
    "DEBUG_KEY",
    "SHARED_KEY",
    "START_TIME_ABSENT_KEY",
    "decode_json",
    "decode_proto",
    "to_zipkin_spans",
    "zipkin_trace_id",
]

SHARED_KEY: Final = "zipkin.shared"
"""Bool span attribute on the ``shared: true`` half of a span whose id the client also uses."""
DEBUG_KEY: Final = "zipkin.debug"
"""Bool span attribute for Zipkin's ``debug: true``."""
START_TIME_ABSENT_KEY: Final = "otel.zipkin.absentField.startTime"
"""Bool span attribute: the Zipkin span had no timestamp (Timestamp is then 0)."""

_SERVICE_NAME_SOURCE_KEY: Final = "otlp.service.name.source"
_STATUS_CODE_KEY: Final = "otel.status_code"
_STATUS_DESCRIPTION_KEY: Final = "otel.status_description"
_ERROR_KEY: Final = "error"
_SPAN_KIND_KEY: Final = "span.kind"
_TRACE_STATE_KEY: Final = "w3c.tracestate"
_LINK_KEY_PREFIX: Final = "otlp.link."
_MAX_LINK_TAGS: Final = 128  # the translator reads otlp.link.0 .. otlp.link.127
_SCOPE_NAME_KEYS: Final = ("otel.scope.name", "otel.library.name")
_SCOPE_VERSION_KEYS: Final = ("otel.scope.version", "otel.library.version")
_HOST_IP: Final = "net.host.ip"
_HOST_PORT: Final = "net.host.port"
_PEER_SERVICE: Final = "peer.service"
_PEER_IP: Final = "net.peer.ip"
_PEER_PORT: Final = "net.peer.port"

# Tags the translator moves to the resource: semantic conventions v1.6.1 resource attributes
# plus the OpenCensus leftovers (GetResourceSemanticConventionAttributeNames, occonventions).
_RESOURCE_KEYS: Final = frozenset(
    {
        "cloud.provider", "cloud.account.id", "cloud.region", "cloud.availability_zone",
        "cloud.platform", "aws.ecs.container.arn", "aws.ecs.cluster.arn",
        "aws.ecs.launchtype", "aws.ecs.task.arn", "aws.ecs.task.family",
        "aws.ecs.task.revision", "aws.eks.cluster.arn", "aws.log.group.names",
        "aws.log.group.arns", "aws.log.stream.names", "aws.log.stream.arns",
        "container.name", "container.id", "container.runtime", "container.image.name",
        "container.image.tag", "deployment.environment", "device.id",
        "device.model.identifier", "device.model.name", "faas.name", "faas.id",
        "faas.version", "faas.instance", "faas.max_memory", "host.id", "host.name",
        "host.type", "host.arch", "host.image.name", "host.image.id", "host.image.version",
        "k8s.cluster.name", "k8s.node.name", "k8s.node.uid", "k8s.namespace.name",
        "k8s.pod.uid", "k8s.pod.name", "k8s.container.name", "k8s.replicaset.uid",
        "k8s.replicaset.name", "k8s.deployment.uid", "k8s.deployment.name",
        "k8s.statefulset.uid", "k8s.statefulset.name", "k8s.daemonset.uid",
        "k8s.daemonset.name", "k8s.job.uid", "k8s.job.name", "k8s.cronjob.uid",
        "k8s.cronjob.name", "os.type", "os.description", "os.name", "os.version",
        "process.pid", "process.executable.name", "process.executable.path",
        "process.command", "process.command_line", "process.command_args", "process.owner",
        "process.runtime.name", "process.runtime.version", "process.runtime.description",
        "service.name", "service.namespace", "service.instance.id", "service.version",
        "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version",
        "telemetry.auto.version", "webengine.name", "webengine.version",
        "webengine.description", "opencensus.starttime", "opencensus.exporterversion",
        "opencensus.resourcetype",
    }
)  # fmt: skip

# Remote endpoint on export (spec "Remote endpoint", ranked): name-like attributes for the
# service name of CLIENT/PRODUCER spans, then address attributes with their port partner.
_REMOTE_NAME_FALLBACKS: Final = (
    "server.address",
    "net.peer.name",
    "server.socket.domain",
    "net.sock.peer.name",
    "peer.hostname",
    "db.name",
)
_REMOTE_ADDRESS_KEYS: Final = (
    (_PEER_IP, _PEER_PORT),
    ("network.peer.address", "network.peer.port"),
    ("server.socket.address", "server.socket.port"),
    ("net.sock.peer.addr", "net.sock.peer.port"),
    ("peer.address", ""),
)

_KIND_BY_NAME: Final = {
    "CLIENT": SpanKind.CLIENT,
    "SERVER": SpanKind.SERVER,
    "PRODUCER": SpanKind.PRODUCER,
    "CONSUMER": SpanKind.CONSUMER,
}
_KIND_BY_PROTO: Final = {
    zipkin_pb2.Span.CLIENT: SpanKind.CLIENT,
    zipkin_pb2.Span.SERVER: SpanKind.SERVER,
    zipkin_pb2.Span.PRODUCER: SpanKind.PRODUCER,
    zipkin_pb2.Span.CONSUMER: SpanKind.CONSUMER,
}
_NAME_BY_KIND: Final = {kind: name for name, kind in _KIND_BY_NAME.items()}
_STATUS_BY_NAME: Final = {"UNSET": StatusCode.UNSET, "OK": StatusCode.OK, "ERROR": StatusCode.ERROR}

_DEFAULT_LIMITS: Final = DecodeLimits()
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MAX_TIME_US: Final = _INT64_MAX // 1000  # larger µs values overflow int64 nanoseconds


class _SpanError(Exception):
    """Why one span is rejected; the rest of the request is kept."""


@dataclass(frozen=True, slots=True)
class _Endpoint:
    service_name: str = ""
    ip: str = ""
    port: int = 0


# --- shared per-span mapping ---------------------------------------------------------------

Attrs = dict[str, tuple[str, str]]  # key -> (value text, type code), as model.encode_value


@functools.lru_cache(maxsize=4096)  # a fleet has few addresses; ipaddress parsing is slow
def _ip_text(value: str | bytes) -> str:
    """Normalised IP text, or "" for anything that is not an address (Zipkin ignores those)."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _pad_id(text: str, *, trace: bool) -> str:
    # Zipkin's normalizeTraceId/Span.Builder left-pad short lower-hex ids.
    length = len(text)
    if 0 < length < 16:
        return text.rjust(16, "0")
    if trace and 16 < length < 32:
        return text.rjust(32, "0")
    return text


def _trace_id(text: str) -> str:
    try:
        return normalize_trace_id(_pad_id(text, trace=True))
    except BadInput as error:
        raise _SpanError(f"traceId: {error.message}") from None


def _span_id(text: str, field: str = "id") -> str:
    try:
        return normalize_span_id(_pad_id(text, trace=False))
    except BadInput as error:
        raise _SpanError(f"{field}: {error.message}") from None


def _parent_id(text: str, span_id: str) -> str:
    if not text or text.strip("0") == "":
        return ""  # absent or all zeros: a root
    parent = _span_id(text, "parentId")
    return "" if parent == span_id else parent


def _check_time(value: int, field: str) -> int:
    if value < 0 or value > _MAX_TIME_US:
        raise _SpanError(f"{field} {value} is not a plausible epoch-microsecond value")
    return value


def _json_load(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _json_attrs(value: Mapping[str, Any]) -> Attrs:
    """JSON object entries as typed attributes, as the translator's jsonMapToAttributeMap reads
    them (integral numbers are ints); arrays and objects, which it skips, are kept as JSON."""
    attrs: Attrs = {}
    for key, item in value.items():
        if isinstance(item, str):
            attrs[key] = (item, "s")
        elif isinstance(item, bool):
            attrs[key] = ("true" if item else "false", "b")
        elif isinstance(item, int):
            attrs[key] = (str(item), "i" if _INT64_MIN <= item <= _INT64_MAX else "s")
        elif isinstance(item, float):
            integral = item.is_integer() and _INT64_MIN <= item <= _INT64_MAX
            attrs[key] = (str(int(item)), "i") if integral else (repr(item), "d")
        elif isinstance(item, list):
            attrs[key] = (orjson.dumps(item).decode(), "a")
        elif isinstance(item, dict):
            attrs[key] = (orjson.dumps(item).decode(), "m")
    return attrs


def _parse_annotation(value: str) -> tuple[str, Attrs]:
    """An annotation as (event name, attributes). Three spellings: a plain ``name``; the
    translator's ``name|{json attributes}|dropped``; the spec's ``{"name": {attributes}}``
    (the OpenTelemetry SDK exporters). Anything that does not parse as exactly one of the
    last two is a plain name."""
    if value.startswith("{") and value.endswith("}"):
        parsed = _json_load(value)
        if isinstance(parsed, dict) and len(parsed) == 1:
            [(name, attrs)] = parsed.items()
            if isinstance(attrs, dict):
                return name, _json_attrs(attrs)
    parts = value.split("|")
    if len(parts) >= 3 and parts[-1].isdigit():
        attrs = _json_load("|".join(parts[1:-1]))
        if isinstance(attrs, dict):
            return parts[0], _json_attrs(attrs)
    return value, {}


def _parse_link(value: str) -> tuple[str, str, str, Attrs] | None:
    """The translator's ``trace|span|tracestate|{json attributes}|dropped`` link tag."""
    parts = value.split("|")
    if len(parts) < 5 or not parts[-1].isdigit():
        return None
    try:
        trace_id = normalize_trace_id(parts[0])
        span_id = normalize_span_id(parts[1])
    except BadInput:
        return None
    attrs = _json_load("|".join(parts[3:-1]))
    if not isinstance(attrs, dict):
        return None
    return trace_id, span_id, parts[2], _json_attrs(attrs)


def _kind_from_tags(tags: dict[str, str]) -> SpanKind:
    """A span without a Zipkin kind: the kind a ``span.kind`` tag names, else UNSPECIFIED."""
    kind_tag = tags.get(_SPAN_KIND_KEY)
    if kind_tag is None:
        return SpanKind.UNSPECIFIED
    try:
        kind = SpanKind.parse(kind_tag)
    except BadInput:
        return SpanKind.UNSPECIFIED  # and the tag stays an attribute
    del tags[_SPAN_KIND_KEY]
    return kind


def _status_from_tags(tags: dict[str, str]) -> tuple[StatusCode, str]:
    """Status and message from ``otel.status_code`` / ``otel.status_description`` / ``error``;
    the tags used are consumed."""
    status, message = StatusCode.UNSET, ""
    code_tag = tags.get(_STATUS_CODE_KEY)
    if code_tag is not None:
        parsed = _STATUS_BY_NAME.get(code_tag.strip().upper().removeprefix("STATUS_CODE_"))
        if parsed is not None:
            status = parsed
            del tags[_STATUS_CODE_KEY]
            message = tags.pop(_STATUS_DESCRIPTION_KEY, "")
    error_tag = tags.get(_ERROR_KEY)
    if error_tag is not None and error_tag.strip().lower() != "false":
        del tags[_ERROR_KEY]
        status = StatusCode.ERROR
        if not message:
            message = tags.pop(_STATUS_DESCRIPTION_KEY, "")
        if not message and error_tag.strip().lower() not in ("", "true"):
            message = error_tag  # Brave and the spec put the description in "error"
    return status, message


def _links_from_tags(tags: dict[str, str]) -> list[tuple[str, str, str, Attrs]]:
    links = []
    for index in range(_MAX_LINK_TAGS):
        key = f"{_LINK_KEY_PREFIX}{index}"
        link_tag = tags.get(key)
        if link_tag is None:
            break
        link = _parse_link(link_tag)
        if link is not None:  # an unparseable one stays a plain tag
            del tags[key]
            links.append(link)
    return links


def _resource_from_tags(tags: dict[str, str], service: str) -> Attrs:
    resource: Attrs = {}
    source_key = tags.pop(_SERVICE_NAME_SOURCE_KEY, "") or "service.name"
    if service:
        resource[source_key] = (service, "s")
    for key in [key for key in tags if key in _RESOURCE_KEYS]:
        value = tags.pop(key)
        resource.setdefault(key, (value, "s"))
    return resource


def _span_attrs(tags: dict[str, str], local: _Endpoint | None, remote: _Endpoint | None) -> Attrs:
    """The remaining tags as strings plus the endpoint attributes; a tag of the same name wins."""
    attrs: Attrs = {key: (value, "s") for key, value in tags.items()}
    if local is not None:
        if local.ip:
            attrs.setdefault(_HOST_IP, (local.ip, "s"))
        if local.port:
            attrs.setdefault(_HOST_PORT, (str(local.port), "i"))
    if remote is not None:
        if remote.service_name:
            attrs.setdefault(_PEER_SERVICE, (remote.service_name, "s"))
        if remote.ip:
            attrs.setdefault(_PEER_IP, (remote.ip, "s"))
        if remote.port:
            attrs.setdefault(_PEER_PORT, (str(remote.port), "i"))
    return attrs


class _Columns:
    """Column lists for one decoded request; one ``append`` per accepted span."""

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits
        self.columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        self.rejected = 0
        self.first_error = ""

    def reject(self, index: int, reason: str) -> None:
        self.rejected += 1
        if not self.first_error:
            self.first_error = f"span #{index}: {reason}"

    def result(self) -> DecodeResult:
        batch = pa.Table.from_pydict(self.columns, schema=SPAN_SCHEMA)
        error = ""
        if self.rejected:
            error = f"{self.rejected} span(s) rejected; first: {self.first_error}"
        return DecodeResult(batch=batch, rejected=self.rejected, error=error[:1024])

    def _cap(self, attrs: Attrs, counts: list[int]) -> tuple[list[tuple[str, str]], str]:
        """Applies the attribute-count and value-length limits; counts = [truncated, dropped]."""
        limits = self.limits
        if len(attrs) <= limits.max_attributes and all(
            len(text) <= limits.max_value_length for text, _ in attrs.values()
        ):  # the common case: nothing to cut
            return [(key, text) for key, (text, _) in attrs.items()], "".join(
                code for _, code in attrs.values()
            )
        items = list(attrs.items())
        if len(items) > limits.max_attributes:
            counts[1] += len(items) - limits.max_attributes
            items = items[: limits.max_attributes]
        entries: list[tuple[str, str]] = []
        codes: list[str] = []
        for key, (text, code) in items:
            if len(text) > limits.max_value_length:
                text = text[: limits.max_value_length]
                code = "s"  # a cut number, base64 or JSON text no longer parses as its type
                counts[0] += 1
            entries.append((key, text))
            codes.append(code)
        return entries, "".join(codes)

    def append(
        self,
        *,
        trace_id: str,
        span_id: str,
        parent_id: str,
        kind: SpanKind | None,
        name: str,
        timestamp_us: int,
        duration_us: int,
        local: _Endpoint | None,
        remote: _Endpoint | None,
        annotations: Sequence[tuple[int, str]],
        tags: dict[str, str],
        debug: bool,
        shared: bool,
    ) -> None:
        """Maps one validated Zipkin span onto the columns; ``tags`` is consumed."""
        _check_time(timestamp_us, "timestamp")
        _check_time(duration_us, "duration")
        for annotation_ts, _ in annotations:
            _check_time(annotation_ts, "annotation timestamp")
        if timestamp_us * 1000 + duration_us * 1000 > _INT64_MAX:
            raise _SpanError("timestamp + duration overflows")

        trace_state = tags.pop(_TRACE_STATE_KEY, "")
        if kind is None:
            kind = _kind_from_tags(tags)
        status, message = _status_from_tags(tags)
        # otel.scope.* wins over the older otel.library.*; both are consumed.
        scope_name = next((v for v in [tags.pop(k, "") for k in _SCOPE_NAME_KEYS] if v), "")
        scope_version = next((v for v in [tags.pop(k, "") for k in _SCOPE_VERSION_KEYS] if v), "")
        links = _links_from_tags(tags)
        service = local.service_name if local is not None else ""
        resource = _resource_from_tags(tags, service)
        attrs = _span_attrs(tags, local, remote)
        marks: list[tuple[str, str]] = []  # ours: added after the cap so they always survive
        if timestamp_us == 0:
            marks.append((START_TIME_ABSENT_KEY, "true"))
        if shared:
            marks.append((SHARED_KEY, "true"))
        if debug:
            marks.append((DEBUG_KEY, "true"))

        limits = self.limits
        counts = [0, 0]  # truncated values, dropped attributes
        events = []
        for annotation_ts, value in annotations[: limits.max_events]:
            event_name, event_attrs = _parse_annotation(value)
            entries, codes = self._cap(event_attrs, counts)
            events.append(
                {
                    "Timestamp": annotation_ts * 1000,
                    "Name": event_name,
                    "Attributes": entries,
                    "AttributeTypes": codes,
                }
            )
        link_rows = []
        for link_trace, link_span, link_state, link_attrs in links[: limits.max_links]:
            entries, codes = self._cap(link_attrs, counts)
            link_rows.append(
                {
                    "TraceId": link_trace,
                    "SpanId": link_span,
                    "TraceState": link_state,
                    "Attributes": entries,
                    "AttributeTypes": codes,
                }
            )
        resource_entries, resource_codes = self._cap(resource, counts)
        span_entries, span_codes = self._cap(attrs, counts)
        for key, text in marks:
            span_entries.append((key, text))
            span_codes += "b"
        counted = (
            (TRUNCATED_KEY, counts[0]),
            (DROPPED_ATTRIBUTES_KEY, counts[1]),
            (DROPPED_EVENTS_KEY, max(0, len(annotations) - limits.max_events)),
            (DROPPED_LINKS_KEY, max(0, len(links) - limits.max_links)),
        )
        for key, count in counted:
            if count:
                span_entries.append((key, str(count)))
                span_codes += "i"

        row = self.columns
        row["Timestamp"].append(timestamp_us * 1000)
        row["TraceId"].append(trace_id)
        row["SpanId"].append(span_id)
        row["ParentSpanId"].append(parent_id)
        row["TraceState"].append(trace_state)
        row["SpanName"].append(name)
        row["SpanKind"].append(int(kind))
        row["ServiceName"].append(service or UNKNOWN_SERVICE)
        row["ResourceAttributes"].append(resource_entries)
        row["ResourceAttributeTypes"].append(resource_codes)
        row["ScopeName"].append(scope_name)
        row["ScopeVersion"].append(scope_version)
        row["SpanAttributes"].append(span_entries)
        row["SpanAttributeTypes"].append(span_codes)
        row["Duration"].append(duration_us * 1000)
        row["StatusCode"].append(int(status))
        row["StatusMessage"].append(message)
        row["Events"].append(events)
        row["Links"].append(link_rows)


# --- JSON ------------------------------------------------------------------------------------


def _json_str(span: Mapping[str, Any], key: str) -> str:
    value = span.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _SpanError(f"{key} must be a string")
    return value


def _json_int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool):
        raise _SpanError(f"{key} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)  # lenient: some JavaScript clients send fractional microseconds
    raise _SpanError(f"{key} must be an integer")


def _json_endpoint(span: Mapping[str, Any], key: str) -> _Endpoint | None:
    value = span.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _SpanError(f"{key} must be an object")
    service = _json_str(value, "serviceName")
    ip = ""
    for field in ("ipv4", "ipv6"):
        text = value.get(field)
        if isinstance(text, str) and not ip:
            ip = _ip_text(text)
    port = value.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        port = 0
    return _Endpoint(service, ip, port)


def _json_annotations(span: Mapping[str, Any]) -> list[tuple[int, str]]:
    value = span.get("annotations")
    if value is None:
        return []
    if not isinstance(value, list):
        raise _SpanError("annotations must be a list")
    annotations = []
    for item in value:
        if not isinstance(item, dict):
            raise _SpanError("an annotation must be an object")
        if item.get("timestamp") is None or not isinstance(item.get("value"), str):
            raise _SpanError("an annotation needs a timestamp and a string value")
        annotations.append((_json_int(item, "timestamp"), item["value"]))
    return annotations


def _json_tags(span: Mapping[str, Any]) -> dict[str, str]:
    value = span.get("tags")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _SpanError("tags must be an object")
    tags: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            tags[key] = item
        elif isinstance(item, bool):
            tags[key] = "true" if item else "false"
        elif item is None:
            continue
        elif isinstance(item, int | float):
            tags[key] = str(item)
        else:  # lenient: a few clients send structured tags; Zipkin tags are text
            try:
                tags[key] = orjson.dumps(item).decode()
            except orjson.JSONEncodeError:  # nested deeper than orjson writes (254 levels)
                raise _SpanError(f"tag {key!r} is nested too deeply") from None
    return tags


def _json_id(span: Mapping[str, Any], key: str) -> str:
    value = span.get(key)
    if value is None or value == "":
        raise _SpanError(f"{key} is required")
    if not isinstance(value, str):
        raise _SpanError(f"{key} must be a string")
    return value


def _append_json_span(columns: _Columns, span: Any) -> None:
    if not isinstance(span, dict):
        raise _SpanError("a span must be a JSON object")
    trace_id = _trace_id(_json_id(span, "traceId"))
    span_id = _span_id(_json_id(span, "id"))
    parent_id = _parent_id(_json_str(span, "parentId"), span_id)
    kind_text = _json_str(span, "kind")
    columns.append(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        kind=_KIND_BY_NAME.get(kind_text.upper()),
        name=_json_str(span, "name"),
        timestamp_us=_json_int(span, "timestamp"),
        duration_us=_json_int(span, "duration"),
        local=_json_endpoint(span, "localEndpoint"),
        remote=_json_endpoint(span, "remoteEndpoint"),
        annotations=_json_annotations(span),
        tags=_json_tags(span),
        debug=span.get("debug") is True,
        shared=span.get("shared") is True,
    )


def decode_json(body: bytes, limits: DecodeLimits = _DEFAULT_LIMITS) -> DecodeResult:
    """Zipkin v2 JSON (a list of spans, as ``POST /api/v2/spans`` takes) into a batch."""
    try:
        spans = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadInput(f"body is not valid JSON: {error}") from None
    if not isinstance(spans, list):
        raise BadInput("body must be a JSON list of Zipkin v2 spans")
    if len(spans) > limits.max_spans:
        raise BadInput(f"{len(spans)} spans in one request; the limit is {limits.max_spans}")
    columns = _Columns(limits)
    for index, span in enumerate(spans):
        try:
            _append_json_span(columns, span)
        except _SpanError as error:
            columns.reject(index, str(error))
    return columns.result()


# --- proto3 ----------------------------------------------------------------------------------


def _proto_endpoint(span: Any, field: str) -> _Endpoint | None:
    if not span.HasField(field):
        return None
    endpoint = getattr(span, field)
    ip = ""
    if len(endpoint.ipv4) == 4:
        ip = _ip_text(endpoint.ipv4)
    elif len(endpoint.ipv6) == 16:
        ip = _ip_text(endpoint.ipv6)
    port = endpoint.port if 0 < endpoint.port < 65536 else 0
    return _Endpoint(endpoint.service_name, ip, port)


def _append_proto_span(columns: _Columns, span: Any) -> None:
    if len(span.trace_id) not in (8, 16):
        raise _SpanError("trace_id must be 8 or 16 bytes")
    if len(span.id) != 8:
        raise _SpanError("id must be 8 bytes")
    if len(span.parent_id) not in (0, 8):
        raise _SpanError("parent_id must be empty or 8 bytes")
    span_id = _span_id(span.id.hex())
    columns.append(
        trace_id=_trace_id(span.trace_id.hex()),
        span_id=span_id,
        parent_id=_parent_id(span.parent_id.hex(), span_id),
        kind=_KIND_BY_PROTO.get(span.kind),
        name=span.name,
        timestamp_us=span.timestamp,
        duration_us=span.duration,
        local=_proto_endpoint(span, "local_endpoint"),
        remote=_proto_endpoint(span, "remote_endpoint"),
        annotations=[(a.timestamp, a.value) for a in span.annotations],
        tags=dict(span.tags),
        debug=span.debug,
        shared=span.shared,
    )


def decode_proto(body: bytes, limits: DecodeLimits = _DEFAULT_LIMITS) -> DecodeResult:
    """Zipkin proto3 ``ListOfSpans`` (``application/x-protobuf``) into a batch."""
    try:
        message = zipkin_pb2.ListOfSpans.FromString(body)
    except (DecodeError, ValueError, RuntimeError) as error:  # upb raises DecodeError
        raise BadInput(f"body is not a Zipkin proto3 ListOfSpans: {error}") from None
    if len(message.spans) > limits.max_spans:
        raise BadInput(
            f"{len(message.spans)} spans in one request; the limit is {limits.max_spans}"
        )
    columns = _Columns(limits)
    for index, span in enumerate(message.spans):
        try:
            _append_proto_span(columns, span)
        except _SpanError as error:
            columns.reject(index, str(error))
    return columns.result()


# --- canonical -> Zipkin JSON ------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _attributes_json(entries: Sequence[tuple[str, str]], codes: str) -> str:
    values = decode_attributes(entries, codes)
    return orjson.dumps({key: _jsonable(value) for key, value in values.items()}).decode()


def _port(text: str | None) -> int:
    if text is None or not text.isdigit():
        return 0
    port = int(text)
    return port if 0 < port < 65536 else 0


def _endpoint_json(service: str, ip: str, port: int) -> dict[str, Any]:
    endpoint: dict[str, Any] = {}
    if service:
        endpoint["serviceName"] = service
    if ip:
        endpoint["ipv6" if ":" in ip else "ipv4"] = ip
    if port:
        endpoint["port"] = port
    return endpoint


def _local_endpoint(service: str, tags: dict[str, str]) -> dict[str, Any]:
    ip = _ip_text(tags.get(_HOST_IP, ""))
    port = _port(tags.get(_HOST_PORT))
    if ip:
        del tags[_HOST_IP]
    if port:
        del tags[_HOST_PORT]
    return _endpoint_json(service, ip, port)


def _remote_endpoint(kind: int, tags: dict[str, str]) -> dict[str, Any] | None:
    folded = []  # the translator's own keys, dropped from the tags once in the endpoint
    service = tags.get(_PEER_SERVICE, "")
    if service:
        folded.append(_PEER_SERVICE)
    elif kind in (SpanKind.CLIENT, SpanKind.PRODUCER):
        service = next((tags[key] for key in _REMOTE_NAME_FALLBACKS if tags.get(key)), "")
    ip, port = "", 0
    for ip_key, port_key in _REMOTE_ADDRESS_KEYS:
        ip = _ip_text(tags.get(ip_key, ""))
        if ip:
            port = _port(tags.get(port_key)) if port_key else 0
            if ip_key == _PEER_IP:
                folded.append(_PEER_IP)
            break
    else:
        port = _port(tags.get(_PEER_PORT))
    if not service and not ip and not port:
        return None  # (the translator also drops a port-only endpoint; we keep its port)
    if port and _PEER_PORT in tags and _port(tags[_PEER_PORT]) == port:
        folded.append(_PEER_PORT)
    for key in folded:
        del tags[key]
    return _endpoint_json(service, ip, port)


def _status_tags(status: int, message: str, tags: dict[str, str]) -> None:
    # The spec: error only for ERROR (and drop an "error": "false"); no code tag for UNSET.
    tags.pop(_ERROR_KEY, None)
    if status == StatusCode.ERROR:
        tags[_STATUS_CODE_KEY] = StatusCode.ERROR.label
        tags[_ERROR_KEY] = message
    elif status == StatusCode.OK:
        tags[_STATUS_CODE_KEY] = StatusCode.OK.label
    if status != StatusCode.UNSET and message:
        tags[_STATUS_DESCRIPTION_KEY] = message


def _columns(batch: SpanBatch, names: Iterable[str]) -> list[list[Any]]:
    return [batch.column(name).to_pylist() for name in names]


_HIGH_HALF_ZERO = "0" * 16


def zipkin_trace_id(trace_id: str) -> str:
    """A trace id as Zipkin's server writes it: a 64-bit id (high half zero) as 16 hex, so a
    Zipkin client finds the id it sent; 128-bit ids stay 32 hex."""
    return trace_id[16:] if trace_id.startswith(_HIGH_HALF_ZERO) else trace_id


def to_zipkin_spans(batch: SpanBatch) -> list[dict[str, Any]]:
    """Zipkin v2 JSON objects for the spans of ``batch``, in batch order (the query API),
    with trace ids in Zipkin's normalised form (`zipkin_trace_id`)."""
    (
        starts, trace_ids, span_ids, parent_ids, trace_states, names, kinds, services,
        resources, scope_names, scope_versions, attributes, durations, statuses, messages,
        events, links,
    ) = _columns(
        batch,
        (
            "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName",
            "SpanKind", "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion",
            "SpanAttributes", "Duration", "StatusCode", "StatusMessage", "Events", "Links",
        ),
    )  # fmt: skip
    spans: list[dict[str, Any]] = []
    for i, trace_id in enumerate(trace_ids):  # one JSON object per span: no columnar form
        tags = {key: value for key, value in resources[i] if key != "service.name"}
        tags.update(attributes[i])
        if scope_names[i]:
            tags["otel.scope.name"] = scope_names[i]
        if scope_versions[i]:
            tags["otel.scope.version"] = scope_versions[i]
        if trace_states[i]:
            tags[_TRACE_STATE_KEY] = trace_states[i]
        kind = kinds[i]
        if kind == SpanKind.INTERNAL:
            tags[_SPAN_KIND_KEY] = SpanKind.INTERNAL.label
        shared = tags.pop(SHARED_KEY, "") == "true"
        debug = tags.pop(DEBUG_KEY, "") == "true"
        start_absent = tags.pop(START_TIME_ABSENT_KEY, "") == "true"

        span: dict[str, Any] = {"traceId": zipkin_trace_id(trace_id)}
        if parent_ids[i]:
            span["parentId"] = parent_ids[i]
        span["id"] = span_ids[i]
        if kind in _NAME_BY_KIND:
            span["kind"] = _NAME_BY_KIND[kind]
        if names[i]:
            span["name"] = names[i]
        if starts[i] > 0 and not start_absent:
            span["timestamp"] = starts[i] // 1000
        duration = durations[i]
        if duration > 0:
            span["duration"] = max(1, duration // 1000)
        span["localEndpoint"] = _local_endpoint(services[i] or UNKNOWN_SERVICE, tags)
        remote = _remote_endpoint(kind, tags)
        if remote is not None:
            span["remoteEndpoint"] = remote
        _status_tags(statuses[i], messages[i], tags)
        if events[i]:
            span["annotations"] = [
                {
                    "timestamp": event["Timestamp"] // 1000,
                    "value": event["Name"]
                    if not event["Attributes"]
                    else f"{event['Name']}|"
                    f"{_attributes_json(event['Attributes'], event['AttributeTypes'])}|0",
                }
                for event in events[i]
            ]
        for n, link in enumerate(links[i]):
            link_attrs = _attributes_json(link["Attributes"], link["AttributeTypes"])
            tags[f"{_LINK_KEY_PREFIX}{n}"] = (
                f"{link['TraceId']}|{link['SpanId']}|{link['TraceState']}|{link_attrs}|0"
            )
        if tags:
            span["tags"] = tags
        if debug:
            span["debug"] = True
        if shared:
            span["shared"] = True
        spans.append(span)
    return spans
