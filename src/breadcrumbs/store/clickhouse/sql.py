"""SQL text for the ClickHouse engine. Values are always server-side parameters
(``{name:Type}``); only the checked database name and this module's constants are formatted in.
"""

# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from breadcrumbs.store.base import DEPENDENCY_HORIZON_NS, TagFilter, TraceQuery
from breadcrumbs.store.clickhouse import schema

SPAN_COLUMNS: Final = """
Timestamp,
lower(hex(TraceId)) AS TraceId,
leftPad(lower(hex(SpanId)), 16, '0') AS SpanId,
if(ParentSpanId = 0, '', leftPad(lower(hex(ParentSpanId)), 16, '0')) AS ParentSpanId,
TraceState, SpanName, SpanKind, ServiceName,
ResourceAttributes, ResourceAttributeTypes, ScopeName, ScopeVersion,
SpanAttributes, SpanAttributeTypes, Duration, StatusCode, StatusMessage, EventsText, LinksText
"""
"""A span's columns as stored, Events and Links as their JSON (``store.unpacked`` decodes it:
ClickHouse's conversion of the arrays to Arrow cost a get-trace ~3 ms of ~26)."""

# SPAN_COLUMNS' aliases (TraceId ...) would shadow the columns in WHERE without the setting
# prefer_column_name_to_alias.
_ID: Final = "toFixedString(unhex({trace:String}), 16)"
_IDS: Final = "arrayMap(t -> toFixedString(unhex(t), 16), {traces:Array(String)})"


def traces_spans(db: str, *, one: bool = False, cluster: bool = False) -> str:
    """The spans of the traces ``{traces:Array(String)}`` (get-traces; with ``one``, of the
    trace ``{trace:String}``, get-trace: ``=`` is ~2 ms faster than an ``IN`` set), one
    statement: ``trace_ranges`` gives each trace's (10-minute bucket, service) keys, and the
    spans' first three key columns ``IN`` that set of (bucket, service, trace) tuples, so the
    primary key reads each trace's granules (one per service and bucket) and no others', and
    the row filter is one hash-set probe. With a cluster, ``GLOBAL IN``: the lookup runs once
    and its set goes to every shard.

    Measured on chDB (bench/README.md, 3 Dec 19:30, 1M spans): 20 traces of a search, one
    statement reading 62 granules, against v3's two statements (the ranges, then an OR of each
    trace's id, range and services, whose index analysis alone took ~33 ms); one trace, as fast
    as v3's three scalar subqueries."""
    in_ = "GLOBAL IN" if cluster else "IN"
    ids = f"= {_ID}" if one else f"IN (SELECT arrayJoin({_IDS}))"
    bucket = schema.BUCKET_NS
    return f"""
    SELECT {SPAN_COLUMNS} FROM {db}.spans
    WHERE (intDiv(Timestamp, {bucket}), ServiceName, TraceId) {in_} (
        SELECT arrayJoin(range(intDiv(min(FirstStart), {bucket}),
                               intDiv(max(LastStart), {bucket}) + 1)),
               arrayJoin(groupUniqArrayArray(Services)), TraceId
        FROM {db}.trace_ranges
        WHERE TraceId {ids}
        GROUP BY TraceId)
    ORDER BY Timestamp, SpanId
    SETTINGS prefer_column_name_to_alias = 1
    """


@dataclass(frozen=True, slots=True)
class TagBranches:
    """Where a tag can match, as ``tag_lookup`` found before a search: the resources holding
    it (their hashes), and whether any stored event has its key."""

    resources: tuple[int, ...] = ()
    events: bool = False


def _matches(column: str, tag: TagFilter, n: int) -> str:
    key, value = f"{{k{n}:String}}", f"{{v{n}:String}}"
    # m[k] is '' for a missing key: an empty value must also find the key.
    present = f" AND mapContains({column}, {key})" if tag.value == "" else ""
    return f"({column}[{key}] = {value}{present})"


def tag_lookup(db: str, tags: tuple[TagFilter, ...]) -> tuple[str, dict[str, Any]]:
    """One row: per tag ``n``, ``r{n}`` the hashes of the resources holding it (none for a
    span-scoped tag), ``e{n}`` whether any event has its key (``event_keys``; only asked for
    a tag of any scope, the one scope whose search looks in events)."""
    columns, params = [], {}
    for n, tag in enumerate(tags):
        params.update({f"k{n}": tag.key, f"v{n}": tag.value})
        holds = "0" if tag.scope == "span" else _matches("ResourceAttributes", tag, n)
        columns.append(f"groupUniqArrayIf(ResourceHash, {holds}) AS r{n}")
        events = (
            f"(SELECT count() > 0 FROM {db}.event_keys WHERE Key = {{k{n}:String}})"
            if tag.scope == "any"
            else "0"
        )
        columns.append(f"{events} AS e{n}")
    return f"SELECT {', '.join(columns)} FROM {db}.resources", params


def tag_branches(row: dict[str, Any], tags: tuple[TagFilter, ...]) -> tuple[TagBranches, ...]:
    """``tag_lookup``'s row, per tag."""
    return tuple(
        TagBranches(
            tuple(int(h) for h in row[f"r{n}"]) if tag.scope != "span" else (),
            bool(row[f"e{n}"]) and tag.scope == "any",
        )
        for n, tag in enumerate(tags)
    )


def _tag_condition(
    tag: TagFilter, n: int, branches: TagBranches
) -> tuple[str | None, dict[str, Any]]:
    """The tag as a condition on one span: only the branches ``tag_lookup`` found possible
    (each branch left out saves the search its columns and the OR; bench/README.md, 4 Dec).
    None when the tag matches nothing."""
    params: dict[str, Any] = {f"k{n}": tag.key, f"v{n}": tag.value}
    scopes = []
    if tag.scope in ("span", "any"):
        scopes.append(_matches("SpanAttributes", tag, n))
    if branches.resources:
        # Resources were matched in their own small table, not through each span's
        # dictionary lookup (with it, the tagged search was 1.3-2.7x slower).
        scopes.append(f"ResourceHash IN {{r{n}:Array(UInt64)}}")
        params[f"r{n}"] = list(branches.resources)
    if branches.events:
        scopes.append(f"arrayExists(e -> {_matches('e.Attributes', tag, n)}, Events)")
    if not scopes:
        return None, params
    return "(" + " OR ".join(scopes) + ")", params


def find_trace_ids(
    db: str, query: TraceQuery, branches: tuple[TagBranches, ...]
) -> tuple[str, dict[str, Any]] | None:
    """Every condition holds on one span; traces ordered by their newest matching span.
    ``branches``: ``tag_branches`` per tag of the query (a span-scoped tag's need no lookup:
    ``TagBranches()``); None when a tag can match no span."""
    where = ["Timestamp >= {start:Int64}", "Timestamp <= {end:Int64}"]
    params: dict[str, Any] = {"start": query.start_ns, "end": query.end_ns, "limit": query.limit}
    if query.service is not None:
        where.append("ServiceName = {service:String}")
        params["service"] = query.service
    if query.operation is not None:
        where.append("SpanName = {operation:String}")
        params["operation"] = query.operation
    if query.span_kind is not None:
        where.append("SpanKind = {kind:Int8}")
        params["kind"] = int(query.span_kind)
    if query.status_codes:
        where.append("StatusCode IN {statuses:Array(Int8)}")
        params["statuses"] = [int(code) for code in query.status_codes]
    if query.min_duration_ns is not None:
        where.append("Duration >= {min_duration:Int64}")
        params["min_duration"] = query.min_duration_ns
    if query.max_duration_ns is not None:
        where.append("Duration <= {max_duration:Int64}")
        params["max_duration"] = query.max_duration_ns
    for n, (tag, possible) in enumerate(zip(query.tags, branches, strict=True)):
        condition, values = _tag_condition(tag, n, possible)
        if condition is None:
            return None
        where.append(condition)
        params.update(values)
    text = f"""
    SELECT lower(hex(TraceId)) AS t FROM {db}.spans
    WHERE {" AND ".join(where)}
    GROUP BY TraceId
    ORDER BY max(Timestamp) DESC, TraceId
    LIMIT {{limit:UInt32}}
    """
    return text, params


_PEER: Final = (
    "coalesce(nullIf(SpanAttributes['peer.service'], ''), "
    "nullIf(SpanAttributes['server.address'], ''), nullIf(SpanAttributes['net.peer.name'], ''))"
)


def remote_services(db: str) -> str:
    return f"""
    SELECT DISTINCT assumeNotNull({_PEER}) AS peer FROM {db}.spans
    WHERE ServiceName = {{service:String}} AND SpanKind IN (3, 4) AND {_PEER} IS NOT NULL
      AND Timestamp >= (SELECT max(Timestamp) FROM {db}.spans) - {{window:Int64}}
    ORDER BY peer
    """


def _attribute(key: str) -> str:
    """A constant key's value in SpanAttributes, NULL when absent."""
    return f"if(mapContains(SpanAttributes, '{key}'), SpanAttributes['{key}'], NULL)"


def _named(kind: str, key: str) -> str:
    return f"mapContains(SpanAttributes, '{key}'), '{kind}'"


# The service graph names more peers than the dependency counts do (theirs is the
# Jaeger/Zipkin API's definition): a database or a queue by its system, any other peer by
# its address; ``peer_kind`` says which (as the DuckDB engine's ``_GRAPH_PEER``).
_GRAPH_PEER: Final = (
    "coalesce("
    + ", ".join(
        _attribute(key)
        for key in (
            "peer.service",
            "db.system",
            "messaging.system",
            "server.address",
            "net.peer.name",
        )
    )
    + ")"
)
_GRAPH_PEER_KIND: Final = (
    f"multiIf({_named('peer', 'peer.service')}, {_named('database', 'db.system')}, "
    f"{_named('queue', 'messaging.system')}, 'peer')"
)


# A span's adjusted count from its tracestate's ``ot=th:`` (ClickHouse's RE2, the same
# patterns as ``sampling.adjusted_count``, which tests hold this to): 2^56 / (2^56 - T), T the
# digits right-padded to 14 (hex, read as a big-endian number); no or a malformed ``th``
# extracts '' and pads to T = 0, weight 1.
ADJUSTED_COUNT: Final = (
    "if(position(TraceState, 'th:') > 0, 72057594037927936.0 / (72057594037927936 - "
    "reinterpretAsUInt64(reverse(unhex(rightPad(extract(extract(TraceState, "
    "'(?:^|,)[ \\t]*ot=([^,]*?)[ \\t]*(?:,|$)'), '(?:^|;)th:([0-9a-f]{1,14})(?:;|$)'), "
    "14, '0'))))), 1.0)"
)


def anchor_params(ranges: list[tuple[int, int]]) -> dict[str, int]:
    """``call_rows``' parameters for ``len(ranges)`` anchor ranges, each [start, stop)."""
    return {f"{side}{i}": v for i, r in enumerate(ranges) for side, v in zip("ab", r, strict=True)}


def call_rows(db: str, *, graph: bool = False, anchors: int | None = None) -> str:
    """Rows (peer, parent, child, err, w, dur, cdur, peer_kind, at) of the calls among spans
    starting in [first, stop), as ``DependencyLink`` defines them. ``w``: the call's weight
    (the callee span's adjusted count, the client span's for a peer call); ``dur``: the
    callee's span duration (the client span's for a peer); ``cdur``: the caller's; ``at``:
    the call's anchor, the child span's start (the client span's for a peer). With
    ``graph``, peers are named as ``_GRAPH_PEER`` does; else by ``peer.service`` alone. With
    ``anchors``, only the calls anchored in that many ranges [{a0:Int64}, {b0:Int64}), ...
    (``anchor_params``), reading only the spans within the horizon of those (plain range
    conditions, not a lambda over an array of them: ClickHouse filters on them first).

    No join: each span of the window and a horizon either side is one row under its own
    (trace, span id) and, with a parent, one more under its parent's; one ``GROUP BY`` of
    those keys puts every span id's spans (``selves``: one, two for a shared span) beside its
    children (``kids``), and array functions read the calls off each group: a pair per child
    and parent both in the window, in other services, at most the horizon apart; a peer call
    per client span in the window naming a peer and with no child within the horizon. The
    self-join with its anti-joins read the spans five times and built three hash tables: at
    1M spans an hour, 1.3-1.9 s against 0.7-1.0 s (bench/README.md, 4 Dec).

    A Zipkin shared span (a client half and a server half with one span id, the server
    half's parent being the client's parent) is one call: the server half's pair with its
    parent. A child of the shared id whose own service holds a server span with that id
    (in the window, within the horizon of the child) belongs to the server half (no pair with
    the client half), and a client half whose id a server span within the horizon shares is
    no peer call. Everything a call depends on is within the horizon of its anchor, so kept
    counts (``dependency_stamps``) never depend on the window they are read for.
    """
    horizon = DEPENDENCY_HORIZON_NS
    peer = _GRAPH_PEER if graph else "SpanAttributes['peer.service']"
    peer_kind = _GRAPH_PEER_KIND if graph else "''"
    anchor, near = "true", ""
    if anchors is not None:
        ranges = [(f"{{a{i}:Int64}}", f"{{b{i}:Int64}}") for i in range(anchors)]
        anchor = " OR ".join(f"(Timestamp >= {a} AND Timestamp < {b})" for a, b in ranges)
        near = " OR ".join(
            f"(Timestamp >= {a} - {horizon} AND Timestamp < {b} + {horizon})" for a, b in ranges
        )
        anchor, near = f"({anchor or 'false'})", f"AND ({near or 'false'})"

    def inside(span: str) -> str:
        return f"({span}.3 >= {{first:Int64}} AND {span}.3 < {{stop:Int64}})"

    def near_to(a: str, b: str) -> str:
        return f"abs({a}.3 - {b}.3) <= {horizon}"

    # A span as a tuple: (service, kind, start, weight, error, duration, peer or '', its
    # kind, anchored).
    return f"""
    SELECT r.1 AS peer, r.2 AS parent, r.3 AS child, r.4 AS err, r.5 AS w, r.6 AS dur,
           r.7 AS cdur, r.8 AS peer_kind, r.9 AS at
    FROM (
        SELECT groupArrayIf(span, role = 0) AS selves, groupArrayIf(span, role = 1) AS kids
        FROM (
            SELECT TraceId, node.1 AS key, node.2 AS role,
                   (toString(ServiceName), SpanKind, Timestamp, {ADJUSTED_COUNT},
                    StatusCode = 2, Duration, if(SpanKind IN (3, 4), ifNull({peer}, ''), ''),
                    {peer_kind}, {anchor}) AS span
            FROM {db}.spans
            ARRAY JOIN if(ParentSpanId = 0, [(SpanId, 0)], [(SpanId, 0), (ParentSpanId, 1)])
                AS node
            WHERE Timestamp >= {{first:Int64}} - {horizon}
              AND Timestamp < {{stop:Int64}} + {horizon} {near}
        )
        GROUP BY TraceId, key
    )
    ARRAY JOIN arrayConcat(
        arrayFlatten(arrayMap(
            k -> arrayMap(p -> (false, p.1, k.1, k.5, k.4, k.6, p.6, '', k.3),
                          arrayFilter(p -> {inside("p")} AND p.1 != k.1
                                           AND {near_to("k", "p")}, selves)),
            arrayFilter(k -> k.9 AND {inside("k")}
                             AND NOT arrayExists(s -> s.2 = 2 AND s.1 = k.1 AND {inside("s")}
                                                      AND {near_to("s", "k")}, selves),
                        kids))),
        arrayMap(c -> (true, c.1, c.7, c.5, c.4, c.6, c.6, c.8, c.3),
                 arrayFilter(c -> c.9 AND {inside("c")} AND c.7 != '' AND c.7 != c.1
                                  AND NOT arrayExists(k -> {near_to("k", "c")}, kids)
                                  AND NOT arrayExists(s -> s.2 = 2 AND {near_to("s", "c")},
                                                      selves),
                             selves))
    ) AS r
    """


def dependencies(db: str) -> str:
    """Call counts per (parent, child) among spans starting in [first, stop)."""
    return f"""
    SELECT parent, child, sum(w) AS calls, sumIf(w, err) AS errors
    FROM ({call_rows(db)})
    GROUP BY parent, child ORDER BY parent, child
    """


DEPENDENCY_UNIT_NS: Final = 15 * 10**9
"""Kept dependency counts are per unit of this length (``dependency_stamps``)."""
_REACH: Final = -(-DEPENDENCY_HORIZON_NS // DEPENDENCY_UNIT_NS)  # units a horizon spans


def dependency_stamps(db: str) -> str:
    """(unit, stamp) of the units [{u0:Int64}, {u1:Int64}) holding a span or near one: a
    unit's stamp is a hash of the spans (their count and the sum of their ids' hashes) of
    each unit within the horizon of it, the spans its calls depend on. Kept counts carry the
    stamp they were counted under, and are used only while it is still the unit's: a late,
    a duplicated or a deleted span changes it, and the unit is counted from the spans again.
    So kept counts need no bookkeeping shared between writers, and stay exact."""
    unit, reach, horizon = DEPENDENCY_UNIT_NS, _REACH, DEPENDENCY_HORIZON_NS
    return f"""
    SELECT unit, stamp FROM (
        SELECT u + d AS unit, sum(cityHash64(d, f)) AS stamp
        FROM (
            SELECT intDiv(Timestamp, {unit}) AS u,
                   cityHash64(count(), sum(cityHash64(TraceId, SpanId, Timestamp))) AS f
            FROM {db}.spans
            WHERE Timestamp >= {{u0:Int64}} * {unit} - {horizon}
              AND Timestamp < {{u1:Int64}} * {unit} + {horizon}
            GROUP BY u
        )
        ARRAY JOIN arrayMap(x -> toInt64(x) - {reach}, range({2 * reach + 1})) AS d
        GROUP BY unit
    )
    WHERE unit >= {{u0:Int64}} AND unit < {{u1:Int64}}
    ORDER BY unit
    """


def kept_markers(db: str) -> str:
    """(unit, stamp) of every count kept for the units [{u0:Int64}, {u1:Int64}): a marker row
    (``Parent`` and ``Child`` '') per unit and stamp, inserted with the unit's counts."""
    return f"""
    SELECT DISTINCT Unit, Stamp FROM {db}.dependency_edges
    WHERE Unit >= {{u0:Int64}} AND Unit < {{u1:Int64}} AND Parent = '' AND Child = ''
    """


def kept_units(db: str) -> str:
    """Of ``dependency_stamps``' units, those whose counts are kept under their stamp now."""
    return f"""
    SELECT unit, stamp FROM ({dependency_stamps(db)})
    WHERE (unit, stamp) IN ({kept_markers(db)})
    ORDER BY unit
    """


def dependency_counts(db: str, anchors: int) -> str:
    """Per unit anchoring them (``call_rows``' ``at``), the counts of calls anchored in
    ``anchors`` ranges: what a refresh keeps."""
    return f"""
    SELECT intDiv(at, {DEPENDENCY_UNIT_NS}) AS unit, parent, child, sum(w) AS calls,
           sumIf(w, err) AS errors
    FROM ({call_rows(db, anchors=anchors)})
    GROUP BY unit, parent, child
    """


def dependencies_kept(db: str, anchors: int) -> str:
    """``dependencies`` from the counts kept for the units ``{kept:Array(Tuple(Int64,
    UInt64))}`` (unit, stamp) and the calls anchored in ``anchors`` ranges (the rest of the
    window), counted from the spans. Several writers may have kept one unit under one
    stamp: each (unit, stamp, edge) counts once."""
    return f"""
    SELECT parent, child, sum(calls) AS calls, sum(errors) AS errors FROM (
        SELECT Parent AS parent, Child AS child, any(Calls) AS calls, any(Errors) AS errors
        FROM {db}.dependency_edges
        WHERE (Unit, Stamp) IN {{kept:Array(Tuple(Int64, UInt64))}}
          AND NOT (Parent = '' AND Child = '')
        GROUP BY Unit, Stamp, Parent, Child
        UNION ALL
        SELECT parent, child, w, if(err, w, 0) FROM ({call_rows(db, anchors=anchors)})
    )
    GROUP BY parent, child ORDER BY parent, child
    """


def service_graph(db: str, bounds_ns: tuple[int, ...]) -> tuple[str, dict[str, Any]]:
    """Edges (parent, child, peer_kind, calls, errors, p95 ns, callee durations per bound,
    their sum, caller durations per bound, their sum, calls seen) of calls in [first, stop),
    weighted by adjusted counts. Per bound: calls at or below it and above the one before;
    the last entry counts the rest. p95: ``base.ServiceGraphEdge``'s weighted nearest rank,
    from the edge's (duration, weight) pairs sorted, their running weight against 95% of
    the calls. Peer calls count only when their client span ends before
    ``{settled:Int64}`` (``ServiceGraphQuery.peers_ended_before_ns``)."""
    lows = [-1, *bounds_ns]  # a duration is never negative
    params: dict[str, Any] = {f"b{i}": bound for i, bound in enumerate(lows)}

    def per_bound(column: str) -> str:
        slots = [
            f"sumIf(w, {column} > {{b{i}:Int64}} AND {column} <= {{b{i + 1}:Int64}})"
            for i in range(len(bounds_ns))
        ]
        return f"[{', '.join([*slots, f'sumIf(w, {column} > {{b{len(bounds_ns)}:Int64}})'])}]"

    text = f"""
    SELECT parent, child, peer_kind, calls, errors,
           arrayFirst((d, c) -> c >= 0.95 * calls, arrayMap(x -> x.1, sorted),
                      arrayCumSum(arrayMap(x -> x.2, sorted))),
           server, server_sum, client, client_sum, seen
    FROM (
        SELECT parent, child, peer_kind, sum(w) AS calls, sumIf(w, err) AS errors,
               arraySort(groupArray((dur, w))) AS sorted, {per_bound("dur")} AS server,
               sum(w * dur) AS server_sum, {per_bound("cdur")} AS client,
               sum(w * cdur) AS client_sum, count() AS seen
        FROM ({call_rows(db, graph=True)})
        WHERE NOT peer OR at + toInt64(dur) < {{settled:Int64}}
        GROUP BY parent, child, peer_kind
    )
    ORDER BY parent, child
    """
    return text, params
