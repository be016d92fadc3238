"""``analysis.why`` on hand-made counts with known answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from breadcrumbs.analysis.why import Proportions, explain_selection
from breadcrumbs.store.base import AttributeCount, OperationCount, SelectionCounts

MS = 1_000_000


def attr(key: str, value: str, selected: int, baseline: int, **where: str) -> AttributeCount:
    number: float | None
    try:
        number = float(value)
    except ValueError:
        number = None
    return AttributeCount(
        "span",
        where.get("service", "gateway"),
        where.get("span", "POST /orders"),
        key,
        value,
        selected,
        baseline,
        number,
        number,
    )


def op(
    service: str, name: str, traces: tuple[int, int], self_ms: tuple[int, int]
) -> OperationCount:
    return OperationCount(
        service, name, *traces, *traces, self_ms[0] * MS, self_ms[1] * MS, self_ms[0] * MS,
        self_ms[1] * MS,
    )  # fmt: skip


def counts(*rows: AttributeCount, operations: tuple[OperationCount, ...] = ()) -> SelectionCounts:
    return SelectionCounts(200 * MS, 20, 80, 20, 80, rows, operations)


def test_an_over_represented_value_ranks_first_with_both_sides() -> None:
    report = explain_selection(
        counts(
            attr("region", "eu", 18, 20),  # 90% vs 25%
            attr("region", "us", 2, 60),
            attr("tier", "gold", 11, 40),  # 55% vs 50%: no difference worth naming
        )
    )
    (top,) = report.attributes
    assert (top.key, top.operator, top.value) == ("region", "=", "eu")
    assert (top.counts.selected, top.counts.baseline) == (18, 20)
    assert top.counts.selected_share == pytest.approx(0.9)
    assert top.counts.baseline_share == pytest.approx(0.25)
    assert [f.value for f in report.rarer_attributes] == ["us"]


def test_a_numeric_key_becomes_the_range_that_separates_the_sides() -> None:
    rows = [attr("order.item_count", str(n), 0, 16) for n in (1, 2, 3, 4)]
    rows += [attr("order.item_count", str(n), 5, 4) for n in (5, 6, 7, 8)]
    report = explain_selection(counts(*rows))
    (top,) = report.attributes
    assert top.text == "order.item_count >= 5"
    assert (top.counts.selected, top.counts.baseline) == (20, 16)


def test_the_same_value_in_several_spans_is_one_finding_with_every_source() -> None:
    report = explain_selection(
        counts(
            attr("order.item_count", "9", 20, 10, service="gateway", span="POST /orders"),
            attr("order.item_count", "9", 20, 10, service="pricing", span="POST /quote"),
            attr("order.item_count", "1", 0, 70, service="gateway", span="POST /orders"),
            attr("order.item_count", "1", 0, 70, service="pricing", span="POST /quote"),
        )
    )
    (top,) = report.attributes
    assert [s.service for s in top.sources] == ["gateway", "pricing"]


def test_one_value_under_two_keys_is_one_finding_with_an_alias() -> None:
    report = explain_selection(
        counts(
            attr("db.statement", "SELECT cargo", 19, 5, service="db", span="SELECT"),
            attr("db.query.text", "SELECT cargo", 19, 5, service="db", span="SELECT"),
        )
    )
    (top,) = report.attributes
    assert (top.key, top.aliases) == ("db.query.text", ("db.statement",))


def test_tiny_counts_are_not_significant() -> None:
    tiny = SelectionCounts(None, 2, 3, 2, 3, (attr("region", "eu", 2, 0),))
    assert explain_selection(tiny).attributes == ()
    assert explain_selection(tiny, min_count=1, min_z=0).attributes[0].value == "eu"


def test_operations_present_more_often_and_where_the_time_grew() -> None:
    report = explain_selection(
        counts(
            operations=(
                op("cache", "cache.lock.wait", (20, 8), (60 * 20, 1 * 8)),
                op("cache", "GET /cache/{key}", (20, 80), (20, 80)),
            )
        )
    )
    assert [(f.service, f.span_name) for f in report.operations] == [("cache", "cache.lock.wait")]
    first = report.time[0]
    assert first.span_name == "cache.lock.wait"
    assert first.selected_self_ns == pytest.approx(60 * MS)
    assert first.baseline_self_ns == pytest.approx(0.1 * MS)
    assert first.share == pytest.approx(1.0)


def test_no_traces_on_a_side_gives_no_findings() -> None:
    empty = SelectionCounts(None, 0, 10, 0, 10, (attr("region", "eu", 0, 10),))
    report = explain_selection(empty)
    assert report.attributes == ()
    assert report.rarer_attributes == ()
    assert report.time == ()


@given(st.integers(0, 500), st.integers(0, 500), st.integers(1, 500), st.integers(1, 500))
def test_proportions_stay_bounded_and_z_is_finite(s: int, b: int, n1: int, n2: int) -> None:
    c = Proportions(s, b, n1, n2)
    assert 0 <= c.selected_share <= 1
    assert 0 <= c.baseline_share <= 1
    assert -1 <= c.difference <= 1
    assert c.z == c.z  # not NaN
    if c.selected_share == c.baseline_share:
        assert c.z == 0


def test_failing_traces_rank_what_they_share_above_how_they_failed() -> None:
    """Selected by failing, the traces all carry the failure's status codes (100% vs 0%):
    true of every failure and no explanation. What they also share (the regulars' loyalty
    tier, 95% vs 5%) ranks first; the status codes follow, still listed for where they were
    set, above weaker findings (one customer's id)."""
    rows = (
        attr("http.response.status_code", "502", 20, 0),
        attr("error.type", "500", 20, 0, service="payment", span="POST /charge"),
        attr("loyalty.tier", "regular", 19, 4, service="loyalty", span="GET /points"),
        attr("user.id", "u1075", 6, 0, service="auth", span="POST /verify"),  # 30% vs 0%
    )
    plain = explain_selection(counts(*rows))
    assert plain.attributes[0].key in ("http.response.status_code", "error.type")
    failing = explain_selection(counts(*rows), outcome_last=True)
    first, *outcomes, weak = failing.attributes
    assert first.key == "loyalty.tier"
    assert weak.key == "user.id"  # a weaker finding stays below how they failed
    assert {f.key for f in outcomes} == {"http.response.status_code", "error.type"}
    (where,) = (f.sources[0].service for f in outcomes if f.key == "error.type")
    assert where == "payment"
