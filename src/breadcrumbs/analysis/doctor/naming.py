"""Bad span names: ids in names, names that say nothing, one route named several ways.

The store groups span names into templates by ``ID_PATTERN`` (each match becomes ``{id}``),
so a name with an id in it shows up as one template with many names.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Final

from breadcrumbs.analysis.doctor.findings import (
    Evidence,
    Example,
    Finding,
    Row,
    Severity,
    kind,
    quoted,
)
from breadcrumbs.model import SpanKind

# RE2 (every engine's dialect) and Python alike: a UUID, or a run of hex digits holding a
# decimal digit (1042, 7f3a9c01, but not "cafe" or "add").
ID_PATTERN: Final = (
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    "|[0-9a-fA-F]*[0-9][0-9a-fA-F]*"
)
ID_PLACEHOLDER: Final = "{id}"

MANY_NAMES: Final = 5
"""Names one template must cover before ids in names are a finding (a few are chance)."""

HTTP_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "HTTP"}
)
GENERIC_NAMES: Final = frozenset(
    {
        "dosomething", "dostuff", "dowork", "doit", "handler", "handle", "process", "run",
        "execute", "exec", "call", "invoke", "function", "func", "fn", "method", "span",
        "operation", "op", "request", "task", "job", "work", "main", "callback", "unknown",
        "default", "test", "todo", "foo", "bar", "baz", "something", "stuff", "anonymous",
        "lambda", "action", "step", "trace", "untitled", "noname", "unnamed",
    }
)  # fmt: skip

MESSAGING_OPERATIONS: Final = frozenset(
    {"publish", "send", "create", "receive", "process", "settle", "deliver"}
)
"""A messaging span may be named by its operation alone when the destination is unknown."""

_URL: Final = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_NON_WORD: Final = re.compile(r"[^a-z]")


def template(name: str) -> str:
    """What the store's templates do, in Python (tests, and names the analysis builds)."""
    return re.sub(ID_PATTERN, ID_PLACEHOLDER, name)


def _route_name(row: Row) -> str:
    method, route = row["Method"], row["Route"]
    return f"{method} {route}" if method and route else ""


def ids_in_names(evidence: Evidence) -> list[Finding]:
    """One operation spread over many span names (ids, numbers, hex in them), and full
    URLs in names."""
    findings = []
    urls: dict[str, list[Row]] = defaultdict(list)
    for row in evidence.operations:
        if _URL.search(str(row["LastName"])):
            urls[str(row["ServiceName"])].append(row)
        elif int(row["Names"]) >= MANY_NAMES:
            findings.append(_ids_finding(row))
    for service, rows in sorted(urls.items()):
        rows.sort(key=lambda row: -int(row["Spans"]))
        names = sum(int(row["Names"]) for row in rows)
        findings.append(
            Finding(
                check="naming.ids-in-names",
                severity=Severity.HIGH if names >= MANY_NAMES else Severity.MEDIUM,
                title=f"{service}: span names with full URLs in them: "
                f"{quoted([str(row['LastName']) for row in rows], 2)}",
                detail=f"{names:,} span names carry a URL: every path and query string makes "
                "a new operation, and secrets in query strings end up in every list.",
                fix="Name client spans `{method}` or `{method} {url.template}` and put the "
                "URL in `url.full` (with its query string redacted).",
                count=names,
                unit="names",
                examples=(Example(str(rows[0]["Example"]), service, str(rows[0]["LastName"])),),
            )
        )
    return findings


def _ids_finding(row: Row) -> Finding:
    names, service = int(row["Names"]), str(row["ServiceName"])
    first, last = str(row["FirstName"]), str(row["LastName"])
    good = _route_name(row) if kind(row) == SpanKind.SERVER else ""
    instead = f" (here '{good}')" if good else ""
    return Finding(
        check="naming.ids-in-names",
        severity=Severity.HIGH if names >= 4 * MANY_NAMES else Severity.MEDIUM,
        title=f"{service}: span names with ids in them: {quoted([last, first], 2)}",
        detail=f"{names:,} distinct names for one operation '{row['NameTemplate']}' "
        f"({int(row['Spans']):,} spans): every id makes a new operation, so operation "
        "lists, metrics and comparisons fall apart.",
        fix="Name spans by what they do, never by the data: an HTTP server span is "
        f"`{{method}} {{http.route}}`{instead}, a client span `{{method}}` or "
        "`{method} {url.template}`; put the id in an attribute (`user.id`, `url.path`).",
        count=names,
        unit="names",
        examples=(Example(str(row["Example"]), service, last),),
    )


def _generic(row: Row) -> bool:
    name = str(row["LastName"])
    if int(row["Names"]) != 1:
        return False
    if name.strip().upper() in HTTP_METHODS:
        # A client span named by its method alone follows the HTTP conventions; a server
        # span knows its route, and an internal one has no method to speak of.
        return kind(row) != SpanKind.CLIENT
    word = _NON_WORD.sub("", name.lower())
    if kind(row) in (SpanKind.PRODUCER, SpanKind.CONSUMER) and word in MESSAGING_OPERATIONS:
        return False  # the messaging conventions' name when the destination is unknown
    return word in GENERIC_NAMES


def generic_names(evidence: Evidence) -> list[Finding]:
    """Names that say nothing: ``DoSomething``, ``handler``, a server span named ``GET``."""
    by_service: dict[str, list[Row]] = defaultdict(list)
    for row in evidence.operations:
        if _generic(row):
            by_service[str(row["ServiceName"])].append(row)
    findings = []
    for service, rows in sorted(by_service.items()):
        rows.sort(key=lambda row: -int(row["Spans"]))
        names = [str(row["LastName"]) for row in rows]
        spans = sum(int(row["Spans"]) for row in rows)
        routes = [r for r in rows if str(r["LastName"]).upper() in HTTP_METHODS and r["Route"]]
        hint = (
            f" A server span named by its method alone: set `http.route` (the framework's "
            f"route template, e.g. '{routes[0]['Route']}') so it is named "
            f"'{_route_name(routes[0])}'."
            if routes
            else ""
        )
        findings.append(
            Finding(
                check="naming.generic-names",
                severity=Severity.MEDIUM,
                title=f"{service}: span names that say nothing: {quoted(names)}",
                detail=f"{spans:,} spans named {quoted(names)}: nobody reading a trace or "
                "a list of operations can tell what they did.",
                fix="Name the unit of work, in low cardinality: verb and object ('load "
                "account', 'charge card', `SELECT accounts`); HTTP server spans "
                "`{method} {http.route}`." + hint,
                count=spans,
                unit="spans",
                examples=tuple(
                    Example(str(row["Example"]), service, str(row["LastName"])) for row in rows[:2]
                ),
            )
        )
    return findings


def inconsistent_route_names(evidence: Evidence) -> list[Finding]:
    """One endpoint (method and ``http.route``) whose server spans carry several names."""
    names: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    rows_of: dict[str, list[Row]] = defaultdict(list)
    for row in evidence.operations:
        if kind(row) == SpanKind.SERVER and row["Route"]:
            route = f"{row['Method'] or ''} {row['Route']}".strip()
            names[route][str(row["NameTemplate"])].add(str(row["ServiceName"]))
            rows_of[route].append(row)
    findings = []
    for route, by_name in sorted(names.items()):
        if len(by_name) < 2:
            continue
        rows = sorted(rows_of[route], key=lambda row: -int(row["Spans"]))
        spelled = [
            f"'{name}' ({', '.join(sorted(services))})" for name, services in by_name.items()
        ]
        findings.append(
            Finding(
                check="naming.inconsistent",
                severity=Severity.LOW,
                title=f"{route} is named {len(by_name)} ways",
                detail=f"Server spans of {route} are named {'; '.join(spelled[:4])}: "
                "one endpoint counted as several.",
                fix="Use one naming rule everywhere: the OpenTelemetry HTTP conventions' "
                "`{method} {http.route}` (the instrumentations of every language do, unless "
                "code renames the span).",
                count=len(by_name),
                unit="names",
                examples=tuple(
                    Example(str(row["Example"]), str(row["ServiceName"]), str(row["LastName"]))
                    for row in rows[:2]
                ),
            )
        )
    return findings


def _own_style(row: Row) -> bool:
    """An HTTP server span named neither ``{method} {route}`` nor with an id or a generic
    name in it (the other naming checks' findings)."""
    name = str(row["LastName"])
    return (
        kind(row) == SpanKind.SERVER
        and bool(_route_name(row))
        and name != _route_name(row)
        and int(row["Names"]) == 1
        and str(row["NameTemplate"]) == name
        and not _generic(row)
    )


def naming_across_services(evidence: Evidence) -> list[Finding]:
    """Services naming their HTTP server spans their own way while the others follow the
    ``{method} {http.route}`` convention: the same kind of work reads differently per service."""
    conforming: set[str] = set()
    own: dict[str, list[Row]] = defaultdict(list)
    for row in evidence.operations:
        if kind(row) == SpanKind.SERVER and _route_name(row):
            if str(row["LastName"]) == _route_name(row):
                conforming.add(str(row["ServiceName"]))
            elif _own_style(row):
                own[str(row["ServiceName"])].append(row)
    if not conforming:
        return []  # no convention among the services to be inconsistent with
    findings = []
    for service, rows in sorted(own.items()):
        rows.sort(key=lambda row: -int(row["Spans"]))
        spans = sum(int(row["Spans"]) for row in rows)
        spelled = [f"'{row['LastName']}' for {_route_name(row)}" for row in rows[:3]]
        others = sorted(conforming - {service})
        findings.append(
            Finding(
                check="naming.across-services",
                severity=Severity.LOW,
                title=f"{service} names its HTTP server spans its own way: {spelled[0]}",
                detail=f"{spans:,} server spans of {service} ({'; '.join(spelled)}) while "
                f"{quoted(others)} name theirs `{{method}} {{http.route}}`: the same kind of "
                "operation reads differently from service to service.",
                fix="Follow the OpenTelemetry HTTP conventions everywhere: name server spans "
                f"`{{method}} {{http.route}}` (here '{_route_name(rows[0])}'); the "
                "instrumentations do unless code renames the span.",
                count=spans,
                unit="spans",
                examples=tuple(
                    Example(str(row["Example"]), service, str(row["LastName"])) for row in rows[:2]
                ),
            )
        )
    return findings
