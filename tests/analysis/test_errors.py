"""Error origins, their chains, handled errors and retries on hand-built traces."""

from __future__ import annotations

from breadcrumbs.analysis.errors import analyse_errors, innermost_frame
from breadcrumbs.analysis.tree import build_tree
from breadcrumbs.model import SpanKind

from .builders import batch, exception, sid, span

PYTHON_TRACE = """Traceback (most recent call last):
  File "/srv/shop/payment.py", line 51, in charge
    split = per_item_charge(amount, items, free)
  File "/srv/shop/payment.py", line 24, in per_item_charge
    return amount_cents / (items - free_items)
ZeroDivisionError: division by zero
"""

JAVA_TRACE = """java.lang.IllegalStateException: no stock
\tat com.shop.Inventory.reserve(Inventory.java:42)
\tat com.shop.Api.handle(Api.java:10)
"""


TIMEOUT_TRACE = """Traceback (most recent call last):
  File "/srv/shop/pricing.py", line 37, in tax_rate
    response = await ctx.http.get(url)
  File "/usr/lib/python3.11/site-packages/httpx/_client.py", line 1757, in get
    return await self.request(...)
  File "/usr/lib/python3.11/asyncio/timeouts.py", line 115, in __aexit__
    raise TimeoutError from exc_val
TimeoutError
"""


def test_the_innermost_frame_of_each_language() -> None:
    assert innermost_frame(PYTHON_TRACE) == "per_item_charge (payment.py:24)"
    assert innermost_frame(TIMEOUT_TRACE) == "tax_rate (pricing.py:37)"  # not asyncio's
    assert innermost_frame(JAVA_TRACE) == "com.shop.Inventory.reserve(Inventory.java:42)"
    assert innermost_frame("no frames here") is None
    assert innermost_frame(None) is None


def test_the_origin_is_the_deepest_error_and_its_chain_reaches_the_root() -> None:
    spans = batch(
        span(1, None, 0, 100, service="gateway", name="POST /orders", error=True),
        span(2, 1, 10, 90, service="gateway", name="POST", kind=SpanKind.CLIENT, error=True),
        span(3, 2, 20, 80, service="payment", name="POST /charge", error=True),
        span(
            4,
            3,
            30,
            40,
            service="payment",
            name="per_item_charge",
            error=True,
            events=[exception("ZeroDivisionError", "division by zero", PYTHON_TRACE, 40)],
        ),
        span(5, 3, 50, 60, service="payment", name="SELECT"),
    )
    errors = analyse_errors(build_tree(spans))
    (origin,) = errors.origins
    assert origin.span_id == sid(4)
    assert (origin.service, origin.name) == ("payment", "per_item_charge")
    assert origin.exception_type == "ZeroDivisionError"
    assert origin.message == "division by zero"
    assert origin.frame == "per_item_charge (payment.py:24)"
    assert origin.chain == (sid(4), sid(3), sid(2), sid(1))
    assert [c.name for c in origin.chain_spans] == [
        "per_item_charge",
        "POST /charge",
        "POST",
        "POST /orders",
    ]
    assert origin.propagated
    assert origin.handled_by is None
    assert errors.handled == ()


def test_a_handled_error_is_told_apart_from_a_propagated_one() -> None:
    spans = batch(
        span(1, None, 0, 100, name="GET /home"),
        span(2, 1, 10, 20, name="GET /recommendations", error=True, status_message="timeout"),
    )
    errors = analyse_errors(build_tree(spans))
    (origin,) = errors.origins
    assert not origin.propagated
    assert origin.handled_by == sid(1)
    assert origin.message == "timeout"
    assert [(h.span_id, h.handled_by) for h in errors.handled] == [(sid(2), sid(1))]


def test_retries_are_one_operation_repeated_under_one_parent_after_a_failure() -> None:
    spans = batch(
        span(1, None, 0, 1000, name="reserve stock", error=True),
        span(2, 1, 0, 100, name="POST", kind=SpanKind.CLIENT, error=True),
        span(3, 1, 200, 300, name="POST", kind=SpanKind.CLIENT, error=True),
        span(4, 1, 400, 500, name="POST", kind=SpanKind.CLIENT, error=True),
        # a loop of successful queries is not a retry
        span(5, 1, 600, 610, name="SELECT"),
        span(6, 1, 620, 630, name="SELECT"),
    )
    errors = analyse_errors(build_tree(spans))
    (retry,) = errors.retries
    assert (retry.parent_span_id, retry.name, retry.attempts, retry.failed) == (
        sid(1),
        "POST",
        3,
        3,
    )
    assert retry.span_ids == (sid(2), sid(3), sid(4))
    # each attempt is an origin: none has an error child
    assert {o.span_id for o in errors.origins} == {sid(2), sid(3), sid(4)}


def test_a_retry_that_succeeded_is_still_a_retry_and_its_failure_was_handled() -> None:
    spans = batch(
        span(1, None, 0, 1000, name="reserve stock"),
        span(2, 1, 0, 100, name="POST", kind=SpanKind.CLIENT, error=True),
        span(3, 1, 200, 300, name="POST", kind=SpanKind.CLIENT),
    )
    errors = analyse_errors(build_tree(spans))
    assert [(r.attempts, r.failed) for r in errors.retries] == [(2, 1)]
    assert [h.span_id for h in errors.handled] == [sid(2)]


def test_only_the_last_attempt_failing_is_not_a_retry() -> None:
    spans = batch(
        span(1, None, 0, 1000),
        span(2, 1, 0, 100, name="GET"),
        span(3, 1, 200, 300, name="GET", error=True),
    )
    assert analyse_errors(build_tree(spans)).retries == ()


def test_errors_in_a_trace_with_a_missing_parent() -> None:
    spans = batch(span(2, 99, 0, 10, error=True), span(3, 2, 1, 5, error=True))
    (origin,) = analyse_errors(build_tree(spans)).origins
    assert origin.chain == (sid(3), sid(2))
    assert origin.propagated
