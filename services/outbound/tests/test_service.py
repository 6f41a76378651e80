"""Outbound requests against the real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from postdesk_contracts import new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_outbound.domain import NO_SMTP_REASON, OutboundStatus
from postdesk_outbound.service import handle_outbound
from postdesk_runtime import Sessions
from postdesk_schema import OutboundMessage, OutboxEvent
from sqlalchemy import func, select
from sqlmodel import col

from .factories import make_event, make_request, seed_account

pytestmark = pytest.mark.integration


async def failed_event(sessions: Sessions, cause: uuid.UUID) -> dict[str, Any] | None:
    async with sessions() as session:
        row = await session.get(OutboxEvent, derived_event_id(cause, "mail.failed"))
    if row is None:
        return None
    assert (row.service, row.routing_key) == ("outbound", "mail.failed")
    body: dict[str, Any] = json.loads(row.body)
    return body


async def rows_for(sessions: Sessions, outbound_id: uuid.UUID) -> list[OutboundMessage]:
    async with sessions() as session:
        found = await session.scalars(
            select(OutboundMessage).where(col(OutboundMessage.id) == outbound_id)
        )
        return list(found.all())


async def test_without_smtp_records_failure_and_emits_mail_failed(sessions: Sessions) -> None:
    """A tenant without SMTP settings gets a failed row and a permanent mail.failed with the reason."""
    seed = await seed_account(sessions)
    request = make_request(seed)
    event = make_event(seed, request)
    async with sessions() as session, session.begin():
        outcome = await handle_outbound(session, event)

    assert outcome.status is OutboundStatus.FAILED
    [row] = await rows_for(sessions, request.outbound_id)
    assert (row.status, row.failure_reason, row.attempts) == ("failed", NO_SMTP_REASON, 0)
    assert (row.tenant_id, row.account_id, row.kind, row.subject) == (
        seed.tenant.id,
        seed.account.id,
        "reply",
        "Re: Printer on fire",
    )
    assert row.to == [{"name": "Carol", "email": "carol@customer.example"}]
    assert row.sent_at is None
    failed = await failed_event(sessions, event.id)
    assert failed is not None
    assert failed["payload"]["outbound_id"] == str(request.outbound_id)
    assert failed["payload"]["reason"] == NO_SMTP_REASON
    assert failed["payload"]["permanent"] is True
    assert failed["tenant_id"] == str(seed.tenant.id)


async def test_redelivery_and_rerequest_record_once(sessions: Sessions) -> None:
    """The same event twice, or the same outbound_id in a new event, leaves one row and one mail.failed."""
    seed = await seed_account(sessions)
    request = make_request(seed)
    event = make_event(seed, request)
    rerequest = new_envelope(event.type, request, tenant_id=seed.tenant.id)
    for e in (event, event, rerequest):
        async with sessions() as session, session.begin():
            await handle_outbound(session, e)

    assert len(await rows_for(sessions, request.outbound_id)) == 1
    assert await failed_event(sessions, event.id) is not None
    assert await failed_event(sessions, rerequest.id) is None


async def test_configured_smtp_is_not_reported_sent(sessions: Sessions) -> None:
    """With SMTP settings the skeleton still records a (non-permanent) failure, never a fake send."""
    seed = await seed_account(
        sessions, settings={"smtp": {"host": "mail.acme.example", "port": 587}}
    )
    request = make_request(seed)
    event = make_event(seed, request)
    async with sessions() as session, session.begin():
        await handle_outbound(session, event)
    [row] = await rows_for(sessions, request.outbound_id)
    assert row.status == "failed"
    failed = await failed_event(sessions, event.id)
    assert failed is not None
    assert failed["payload"]["permanent"] is False


async def test_account_of_another_tenant_is_refused(sessions: Sessions) -> None:
    """A request naming another tenant's account writes no row and emits a permanent mail.failed."""
    seed, other = await seed_account(sessions), await seed_account(sessions)
    request = make_request(other)
    event = make_event(seed, request)
    async with sessions() as session, session.begin():
        await handle_outbound(session, event)
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(col(OutboundMessage.id) == request.outbound_id)
        )
    assert count == 0
    failed = await failed_event(sessions, event.id)
    assert failed is not None
    assert failed["payload"]["permanent"] is True
    assert "another tenant" in failed["payload"]["reason"]
