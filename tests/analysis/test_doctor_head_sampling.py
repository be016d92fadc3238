"""The doctor's ``sampling.error-traces-lost``: error traces head sampling dropped, per root
endpoint, from spans in a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from breadcrumbs.analysis.doctor import CHECKS, Evidence, Severity
from breadcrumbs.model import SpanKind, StatusCode

from .doctor_world import Shop, evidence

CHECK = "sampling.error-traces-lost"


async def test_estimates_the_error_traces_each_root_endpoint_lost(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(10):  # error traces kept at p = 1/4: each stands for 3 lost
        trace = shop.trace_id()
        root = shop.span(trace, "payment", "POST /charge", SpanKind.SERVER, 150_000 + i, 5,
                         status=StatusCode.ERROR, trace_state="ot=th:c")  # fmt: skip
        shop.span(trace, "payment", "charge card", SpanKind.INTERNAL, 150_000 + i, 3, root,
                  status=StatusCode.ERROR, trace_state="ot=th:c")  # fmt: skip
    for i in range(60):  # at p = 1/10 (th e666), two errors: ~18 lost
        trace = shop.trace_id()
        shop.span(trace, "search", "GET /find", SpanKind.SERVER, 160_000 + i, 5,
                  status=StatusCode.ERROR if i < 2 else StatusCode.UNSET,
                  trace_state="ot=th:e666")  # fmt: skip
    (finding,) = CHECKS[CHECK](await evidence(shop, tmp_path))
    # The root's error spans only: the internal error span is the same trace.
    assert finding.count == pytest.approx(30 + 18, abs=1)
    assert finding.severity == Severity.MEDIUM
    assert finding.unit == "error traces"
    assert finding.detail.index("payment 'POST /charge'") < finding.detail.index("search")
    assert "p=0.25" in finding.detail
    assert finding.examples[0].service == "payment"
    assert "--tail-sampling-rate" in finding.fix


async def test_unsampled_and_fully_sampled_traffic_loses_nothing(tmp_path: Path) -> None:
    shop = Shop().healthy()
    for i in range(5):
        shop.span(shop.trace_id(), "payment", "POST /charge", SpanKind.SERVER, 150_000 + i, 5,
                  status=StatusCode.ERROR, trace_state="ot=th:0")  # p = 1  # fmt: skip
    found: Evidence = await evidence(shop, tmp_path)
    assert CHECKS[CHECK](found) == []
