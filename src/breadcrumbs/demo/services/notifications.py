"""notifications: consumes the gateway's SQLite outbox. Two consumers read every message:
``email`` handles one message at a time (its span is a child of the producer's), and
``daily-digest`` takes batches (its span links to every message's producer)."""

from __future__ import annotations

import asyncio
import json
import time

from opentelemetry import trace
from starlette.routing import Route

from breadcrumbs import sdk
from breadcrumbs.demo.runtime import Database, ServiceContext, ServiceSpec, untraced

TOPIC = "order-events"
SYSTEM = "sqlite-outbox"
POLL_S = 0.25
DIGEST_EVERY_S = 1.5
OUTBOX_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, "
    "order_id TEXT, body TEXT, headers TEXT, created_at REAL, sent_at REAL, digested_at REAL)"
)


@sdk.traced
async def send_email(order_id: str, user_id: int) -> None:
    trace.get_current_span().set_attributes({"order.id": order_id, "user.id": str(user_id)})
    await asyncio.sleep(0.003)  # the mail relay


@sdk.traced
def build_digest(orders: list[str]) -> str:
    trace.get_current_span().set_attribute("digest.orders", len(orders))
    return f"{len(orders)} smoothies ordered"


async def email_consumer(db: Database) -> None:
    while True:
        with untraced():
            rows = await db.fetch(
                "SELECT id, order_id, body, headers FROM outbox WHERE sent_at IS NULL "
                "ORDER BY id LIMIT 20"
            )
        for msg_id, order_id, body, headers in rows:
            with sdk.consumer_span(
                json.loads(headers),
                TOPIC,
                system=SYSTEM,
                message_id=str(msg_id),
                attributes={"messaging.consumer.group.name": "email", "order.id": order_id},
            ):
                await send_email(order_id, int(json.loads(body)["user_id"]))
                await db.fetch("UPDATE outbox SET sent_at = ? WHERE id = ?", (time.time(), msg_id))
        await asyncio.sleep(POLL_S)


async def digest_consumer(db: Database) -> None:
    while True:
        await asyncio.sleep(DIGEST_EVERY_S)
        with untraced():
            rows = await db.fetch(
                "SELECT id, order_id, headers FROM outbox WHERE digested_at IS NULL "
                "ORDER BY id LIMIT 50"
            )
        if not rows:
            continue
        with sdk.batch_consumer_span(
            [json.loads(h) for _, _, h in rows],
            TOPIC,
            system=SYSTEM,
            attributes={"messaging.consumer.group.name": "daily-digest"},
        ):
            build_digest([o for _, o, _ in rows])
            marks = ",".join("?" * len(rows))
            await db.fetch(
                f"UPDATE outbox SET digested_at = ? WHERE id IN ({marks})",  # noqa: S608
                (time.time(), *(r[0] for r in rows)),
            )


def build(ctx: ServiceContext) -> ServiceSpec:
    db = ctx.db("outbox.db")
    db.setup(OUTBOX_SCHEMA)

    async def email(ctx: ServiceContext) -> None:
        await email_consumer(db)

    async def digest(ctx: ServiceContext) -> None:
        await digest_consumer(db)

    routes: list[Route] = []
    return ServiceSpec(routes, background=[email, digest])
