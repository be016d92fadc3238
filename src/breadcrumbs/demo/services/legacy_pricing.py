"""legacy-pricing: the old tax-rules service. It has no tracing at all, and it is slow;
under third-party-timeout it hangs far past its callers' patience."""

from __future__ import annotations

import asyncio
import random

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec

HANG_S = 2.0


def build(ctx: ServiceContext) -> ServiceSpec:
    async def tax(request: Request) -> Response:
        hang = ctx.active("third-party-timeout")
        await asyncio.sleep(HANG_S if hang else random.uniform(0.02, 0.04))
        return JSONResponse({"rate": 0.07, "region": request.query_params.get("region", "eu")})

    return ServiceSpec([Route("/tax-rules", tax, methods=["GET"])])
