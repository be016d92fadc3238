"""auth: turns a session token into a user id (SQLite sessions table)."""

from __future__ import annotations

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from breadcrumbs.demo.runtime import ServiceContext, ServiceSpec


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("auth.db")
    db.setup("CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, user_id INT)")
    db.setup_many(
        "INSERT OR IGNORE INTO sessions VALUES (?, ?)",
        [(f"tok-{uid}", uid) for uid in range(1000, 1100)],
    )

    async def verify(request: Request) -> Response:
        body = await request.json()
        rows = await db.fetch("SELECT user_id FROM sessions WHERE token = ?", (body["token"],))
        if not rows:
            return JSONResponse({"error": "invalid session"}, status_code=401)
        trace.get_current_span().set_attribute("user.id", str(rows[0][0]))
        return JSONResponse({"user_id": rows[0][0]})

    return ServiceSpec([Route("/verify", verify, methods=["POST"])])
