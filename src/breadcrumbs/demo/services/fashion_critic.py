"""fashion-critic: comments on the customer's outfit. Nobody asked."""

from __future__ import annotations

import asyncio
import random

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs import sdk
from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec

VERDICTS = {
    "linen": "Effortless. The kale approves.",
    "hoodie": "Bold choice for a smoothie bar.",
    "suit": "Overdressed for kale, but we respect it.",
    "tracksuit": "Post-gym chic. Extra spirulina for you.",
    "pyjamas": "It is 11am. We see you.",
}


@sdk.traced
async def judge_outfit(outfit: str) -> str:
    await asyncio.sleep(random.uniform(0.002, 0.006))  # deep thought
    verdict = VERDICTS.get(outfit, "Interesting. Very interesting.")
    trace.get_current_span().set_attribute("critic.outfit", outfit)
    return verdict


def build(ctx: ServiceContext) -> ServiceSpec:
    async def critique(request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"verdict": await judge_outfit(str(body.get("outfit", "")))})

    return ServiceSpec([Route("/critique", critique, methods=["POST"])])
