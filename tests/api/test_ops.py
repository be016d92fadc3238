import httpx
from starlette.applications import Starlette

from breadcrumbs.api import ops
from breadcrumbs.selfmetrics import SelfMetrics


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops")


async def test_readyz_follows_the_ready_check_and_healthz_always_answers() -> None:
    state: list[str | None] = ["replaying WAL"]
    app = Starlette(routes=ops.routes(lambda: state[0], SelfMetrics()))
    async with _client(app) as client:
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        assert "replaying WAL" in not_ready.text
        assert (await client.get("/healthz")).status_code == 200
        state[0] = None
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_metrics_refresh_store_gauges_at_most_once_per_interval() -> None:
    metrics = SelfMetrics()
    calls: list[int] = []

    async def refresh() -> None:
        calls.append(1)
        metrics.store_spans.set(42 * len(calls))

    app = Starlette(routes=ops.routes(lambda: None, metrics, refresh, refresh_interval_s=3600))
    async with _client(app) as client:
        first = await client.get("/metrics")
        second = await client.get("/metrics")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain")
    assert "breadcrumbs_store_spans 42.0" in first.text
    assert "breadcrumbs_store_spans 42.0" in second.text
    assert len(calls) == 1


async def test_a_failing_refresh_still_serves_metrics() -> None:
    metrics = SelfMetrics()

    async def refresh() -> None:
        raise RuntimeError("store closed")

    app = Starlette(routes=ops.routes(lambda: None, metrics, refresh))
    async with _client(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "breadcrumbs_receiver_spans_accepted" in response.text
