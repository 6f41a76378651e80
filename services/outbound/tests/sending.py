"""Helpers of the sender's tests: a tenant that sends through a test SMTP server, and what it recorded."""

from __future__ import annotations

import email
import json
import uuid
from datetime import datetime
from email.message import Message
from typing import Any

from postdesk_runtime import Sessions
from postdesk_schema import OutboundMessage, OutboxEvent, SmtpServer
from sqlalchemy import select
from sqlmodel import col

from .factories import Seed, seed_account


async def seed_sender(
    sessions: Sessions, *, smtp_port: int | None, outbound: dict[str, Any] | None = None
) -> Seed:
    """A tenant with an account, its `outbound` policy (no undo window unless given), and,
    with `smtp_port`, a plain-SMTP default server on 127.0.0.1:smtp_port."""
    seed = await seed_account(
        sessions, settings={"outbound": {"undo_seconds": 0} | (outbound or {})}
    )
    if smtp_port is not None:
        async with sessions() as session, session.begin():
            session.add(
                SmtpServer(
                    tenant_id=seed.tenant.id,
                    host="127.0.0.1",
                    port=smtp_port,
                    security="none",
                    timeout_seconds=10,
                )
            )
    return seed


async def stored(sessions: Sessions, outbound_id: uuid.UUID) -> OutboundMessage:
    async with sessions() as session:
        row = await session.get(OutboundMessage, outbound_id)
    assert row is not None
    return row


async def events(sessions: Sessions, routing_key: str, outbound_id: uuid.UUID) -> list[OutboxEvent]:
    """Outbox rows of `routing_key` about the message (the dead-letter one is its request)."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(
                col(OutboxEvent.service) == "outbound",
                col(OutboxEvent.routing_key) == routing_key,
                col(OutboxEvent.body).contains(str(outbound_id)),
            )
            .order_by(col(OutboxEvent.created_at))
        )
        return list(rows.all())


def body_of(row: OutboxEvent) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(row.body)
    return parsed


def parsed(data: bytes) -> Message:
    return email.message_from_bytes(data)


def stages(row: OutboundMessage) -> list[str]:
    return [entry["stage"] for entry in row.attempt_log]


def iso(at: datetime) -> str:
    return at.isoformat()
