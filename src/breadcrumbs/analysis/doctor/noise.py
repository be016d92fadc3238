"""Noise: attributes that cost storage and attention without telling anything."""

from __future__ import annotations

from typing import Final

from breadcrumbs.analysis.doctor.findings import Evidence, Example, Finding, Severity
from breadcrumbs.analysis.doctor.naming import ID_PLACEHOLDER

DYNAMIC_KEYS: Final = 20
"""Distinct keys sharing one template before keys are called dynamic."""

LOW_CARDINALITY_KEYS: Final = frozenset(
    {
        "http.route", "http.request.method", "http.method", "db.operation.name",
        "db.operation", "db.system", "rpc.method", "rpc.service", "rpc.system", "error.type",
        "peer.service", "messaging.operation", "messaging.operation.name", "url.scheme",
        "network.protocol.name", "span.kind", "otel.status_code",
    }
)  # fmt: skip
"""Keys the OpenTelemetry conventions define with few values (names, enums, templates)."""
EXPLODING_VALUES: Final = 100

NEAR_LIMIT: Final = 0.8


def dynamic_keys(evidence: Evidence) -> list[Finding]:
    """Attribute keys with ids in them: an unbounded number of keys."""
    findings = []
    for row in evidence.attributes:
        keys, key_template = int(row["Keys"]), str(row["KeyTemplate"])
        if keys < DYNAMIC_KEYS or ID_PLACEHOLDER not in key_template:
            continue
        service = str(row["ServiceName"])
        findings.append(
            Finding(
                check="noise.dynamic-keys",
                severity=Severity.HIGH if keys >= 5 * DYNAMIC_KEYS else Severity.MEDIUM,
                title=f"{service}: ~{keys:,} attribute keys like '{row['ExampleKey']}'",
                detail=f"Keys of the form '{key_template}' carry an id: {keys:,} distinct keys "
                f"over {int(row['Spans']):,} values; every new id is a new column to index.",
                fix="Keep keys fixed and put the id in the value: `cart.item.id=1042` "
                "instead of `cart.item.1042=...` (one value per span, or one span per item).",
                count=keys,
                unit="keys",
                examples=(Example(str(row["Example"]), service),),
            )
        )
    return findings


def exploding_values(evidence: Evidence) -> list[Finding]:
    """Keys meant to have few values (routes, methods, error types) with very many."""
    findings = []
    for row in evidence.attributes:
        key, values = str(row["KeyTemplate"]), int(row["Values"])
        if key not in LOW_CARDINALITY_KEYS or values < EXPLODING_VALUES:
            continue
        service = str(row["ServiceName"])
        findings.append(
            Finding(
                check="noise.exploding-values",
                severity=Severity.MEDIUM,
                title=f"{service}: '{key}' has ~{values:,} distinct values",
                detail=f"'{key}' should name a kind of thing (a template, a method, an error "
                f"class) but takes ~{values:,} values over {int(row['Spans']):,} spans: "
                "grouping by it, and the metrics built from it, explode.",
                fix=f"Fill '{key}' with the low-cardinality form the OpenTelemetry "
                "conventions define (`http.route` is the route template `/users/{id}`, "
                "`error.type` the exception class); put specifics in other attributes.",
                count=values,
                unit="values",
                examples=(Example(str(row["Example"]), service),),
            )
        )
    return findings


def huge_values(evidence: Evidence) -> list[Finding]:
    """Attribute values near (or cut at) the length limit."""
    limit = evidence.value_limit
    findings = []
    for row in evidence.attributes:
        longest = int(row["MaxLength"] or 0)
        if longest < NEAR_LIMIT * limit:
            continue
        service, key = str(row["ServiceName"]), str(row["ExampleKey"])
        cut = longest >= limit
        findings.append(
            Finding(
                check="noise.huge-values",
                severity=Severity.MEDIUM if cut else Severity.LOW,
                title=f"{service}: '{key}' values up to {longest:,} characters"
                + (" (cut at the limit)" if cut else ""),
                detail=f"Values of '{key}' reach {longest:,} characters, "
                f"{'at' if cut else 'near'} the {limit:,}-character truncation limit: "
                "payloads in attributes slow every query and may carry personal data.",
                fix="Record a size, a hash or a summary instead of the payload (bodies belong "
                "in logs, sampled); if the whole value is needed, raise the server's "
                "attribute value length limit.",
                count=longest,
                unit="characters",
                examples=(Example(str(row["Example"]), service),),
            )
        )
    return findings
