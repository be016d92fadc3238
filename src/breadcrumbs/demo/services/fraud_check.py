"""fraud-check: scores a payment."""

from __future__ import annotations

import hashlib

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs import sdk
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec


@sdk.traced
def risk_score(user_id: int, amount_cents: int) -> float:
    digest = hashlib.sha256(f"{user_id}:{amount_cents}".encode()).digest()
    for _ in range(200):  # a "model": a little real CPU work
        digest = hashlib.sha256(digest).digest()
    score = digest[0] / 255
    trace.get_current_span().set_attribute("fraud.score", round(score, 3))
    return score


def build(ctx: ServiceContext) -> ServiceSpec:
    async def score(request: Request) -> Response:
        body = await request.json()
        value = risk_score(int(body["user_id"]), int(body["amount_cents"]))
        return JSONResponse({"score": value, "approved": value < 0.97})

    return ServiceSpec([Route("/score", score, methods=["POST"])])
