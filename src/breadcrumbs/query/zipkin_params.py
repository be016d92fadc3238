"""Zipkin v2 query API parameters -> query objects, per ``zipkin2-api.yaml``.

- ``/api/v2/traces``: ``serviceName``, ``spanName`` (``all`` = any), ``remoteServiceName``
  (matched as the ``peer.service`` span attribute, where Zipkin's remoteEndpoint lands),
  ``annotationQuery`` (``error and http.method=GET``: ``key=value`` matches a tag's value
  text, a bare key matches a tag with that key or an annotation with that value),
  ``minDuration``/``maxDuration`` (µs; max only with min), ``endTs``/``lookback`` (ms; default
  now and one day, Zipkin's ``QUERY_LOOKBACK``), ``limit`` (traces, default 10).
- ``/api/v2/dependencies``: ``endTs`` (required) and ``lookback`` (ms).
- ``/api/v2/traceMany``: ``traceIds``, comma separated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from breadcrumbs.errors import BadInput
from breadcrumbs.model import normalize_trace_id
from breadcrumbs.query.params import (
    NS_PER_MS,
    NS_PER_S,
    NS_PER_US,
    Params,
    first,
    parse_int,
    scaled,
)
from breadcrumbs.store.base import TagFilter, TraceQuery

DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 10_000
DEFAULT_LOOKBACK_NS: Final = 24 * 3600 * NS_PER_S
PEER_SERVICE_KEY: Final = "peer.service"


@dataclass(frozen=True, slots=True)
class ZipkinSearch:
    """A ``/api/v2/traces`` request: conditions the store pushes down, plus the bare
    ``annotationQuery`` keys the query service checks on the fetched traces."""

    query: TraceQuery
    required_keys: tuple[str, ...] = ()


def parse_annotation_query(text: str) -> tuple[tuple[TagFilter, ...], tuple[str, ...]]:
    """``a=b and c`` -> (tag filters, bare keys). Terms are joined by `` and `` as in Zipkin;
    ``key=`` with an empty value means the key exists, as in Zipkin's QueryRequest."""
    tags: dict[str, str] = {}
    keys: list[str] = []
    for raw in text.split(" and "):
        term = raw.strip()
        if not term:
            continue
        key, equals, value = term.partition("=")
        key, value = key.strip(), value.strip()
        if not key:
            raise BadInput(f"unable to parse param 'annotationQuery': empty key in {term[:64]!r}")
        if equals and value:
            tags[key] = value
        elif key not in keys:
            keys.append(key)
    return tuple(TagFilter(key, value, "span") for key, value in tags.items()), tuple(keys)


def _time_window(
    params: Params, now_ns: int, *, end_required: bool, max_lookback_ns: int
) -> tuple[int, int]:
    end_text = first(params, "endTs")
    if not end_text and end_required:
        raise BadInput("parameter 'endTs' is required")
    end_ns = (
        scaled(parse_int(end_text, "endTs", minimum=1), NS_PER_MS, "endTs") if end_text else now_ns
    )
    lookback_text = first(params, "lookback")
    lookback_ns = (
        scaled(parse_int(lookback_text, "lookback", minimum=1), NS_PER_MS, "lookback")
        if lookback_text
        else min(DEFAULT_LOOKBACK_NS, max_lookback_ns)
    )
    return end_ns, lookback_ns


def parse_traces(
    params: Params,
    now_ns: int,
    max_lookback_ns: int = DEFAULT_LOOKBACK_NS,
    max_traces: int = MAX_LIMIT,
) -> ZipkinSearch:
    """``max_lookback_ns`` and ``max_traces`` cap the default lookback and limit
    (``--max-query-window``, ``--max-query-traces``)."""
    end_ns, lookback_ns = _time_window(
        params, now_ns, end_required=False, max_lookback_ns=max_lookback_ns
    )

    min_text, max_text = first(params, "minDuration"), first(params, "maxDuration")
    min_us = parse_int(min_text, "minDuration", minimum=0) if min_text else None
    max_us = parse_int(max_text, "maxDuration", minimum=0) if max_text else None
    if max_us is not None:
        if min_us is None:
            raise BadInput("parameter 'minDuration' is required when specifying 'maxDuration'")
        if max_us < min_us:
            raise BadInput("parameter 'maxDuration' should be >= 'minDuration'")

    limit_text = first(params, "limit")
    limit = (
        parse_int(limit_text, "limit", minimum=1, maximum=MAX_LIMIT)
        if limit_text
        else min(DEFAULT_LIMIT, max_traces)
    )

    tags, keys = parse_annotation_query(first(params, "annotationQuery"))
    remote = first(params, "remoteServiceName")
    if remote:
        tags = (*tags, TagFilter(PEER_SERVICE_KEY, remote, "span"))
    span_name = first(params, "spanName")

    query = TraceQuery(
        start_ns=max(0, end_ns - lookback_ns),
        end_ns=end_ns,
        service=first(params, "serviceName") or None,
        operation=None if span_name in ("", "all") else span_name,
        tags=tags,
        min_duration_ns=None if min_us is None else scaled(min_us, NS_PER_US, "minDuration"),
        max_duration_ns=None if max_us is None else scaled(max_us, NS_PER_US, "maxDuration"),
        limit=limit,
    )
    return ZipkinSearch(query=query, required_keys=keys)


def parse_dependencies(
    params: Params, now_ns: int, max_lookback_ns: int = DEFAULT_LOOKBACK_NS
) -> tuple[int, int]:
    """(end_ns, lookback_ns); ``endTs`` is required by the Zipkin spec."""
    return _time_window(params, now_ns, end_required=True, max_lookback_ns=max_lookback_ns)


def parse_trace_ids(params: Params) -> list[str]:
    """``traceIds=a,b`` -> normalised ids, in order, without repeats."""
    text = first(params, "traceIds")
    ids: list[str] = []
    for part in text.split(","):
        if part.strip():
            trace_id = normalize_trace_id(part.strip())
            if trace_id not in ids:
                ids.append(trace_id)
    if not ids:
        raise BadInput("parameter 'traceIds' is required: a comma-separated list of trace ids")
    return ids


def required(params: Params, name: str) -> str:
    value = first(params, name)
    if not value:
        raise BadInput(f"parameter '{name}' is required")
    return value
