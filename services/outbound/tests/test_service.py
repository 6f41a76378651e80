"""Recording outbound requests against the real PostgreSQL: the consumer only schedules."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from postdesk_contracts import new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_outbound.domain import OutboundStatus
from postdesk_outbound.service import handle_outbound
from postdesk_runtime import Sessions
from postdesk_schema import OutboundMessage, OutboxEvent
from sqlalchemy import func, select
from sqlmodel import col

from .factories import make_event, make_request, seed_account

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def outbox_of(sessions: Sessions, cause: uuid.UUID) -> list[OutboxEvent]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(col(OutboxEvent.body).contains(str(cause)))
        )
        return list(rows.all())


async def rows_for(sessions: Sessions, outbound_id: uuid.UUID) -> list[OutboundMessage]:
    async with sessions() as session:
        found = await session.scalars(
            select(OutboundMessage).where(col(OutboundMessage.id) == outbound_id)
        )
        return list(found.all())


async def test_a_request_is_scheduled_after_the_undo_window(sessions: Sessions) -> None:
    """The row holds the whole request and is due once the tenant's undo window has passed;
    nothing is announced yet (the sender reports the outcome)."""
    seed = await seed_account(sessions, settings={"outbound": {"undo_seconds": 20}})
    user = uuid.uuid4()
    request = make_request(seed, requested_by=user, message_id="pd.x.1@acme.example")
    event = make_event(seed, request)
    async with sessions() as session, session.begin():
        outcome = await handle_outbound(session, event, now=T0)

    assert outcome.status is OutboundStatus.SCHEDULED
    assert outcome.next_attempt_at == T0 + timedelta(seconds=20)
    [row] = await rows_for(sessions, request.outbound_id)
    assert (row.status, row.next_attempt_at, row.attempts) == (
        "scheduled",
        T0 + timedelta(seconds=20),
        0,
    )
    assert (row.tenant_id, row.account_id, row.kind, row.subject) == (
        seed.tenant.id,
        seed.account.id,
        "reply",
        "Re: Printer on fire",
    )
    assert row.to == [{"name": "Carol", "email": "carol@customer.example"}]
    assert row.request == json.loads(request.model_dump_json(by_alias=True))
    assert (row.requested_by, row.message_id_header) == (user, "pd.x.1@acme.example")
    [requested] = row.attempt_log
    assert (requested["stage"], requested["event_id"], requested["correlation_id"]) == (
        "requested",
        str(event.id),
        str(event.correlation_id),
    )
    assert row.sent_at is None
    assert await outbox_of(sessions, request.outbound_id) == []


@pytest.mark.parametrize(
    ("send_in", "due_in"),
    [
        (timedelta(hours=2), timedelta(hours=2)),  # scheduled send
        (timedelta(seconds=3), timedelta(seconds=10)),  # still inside the undo window
        (-timedelta(hours=1), timedelta(seconds=10)),  # in the past: after the undo window
    ],
)
async def test_send_at_is_kept_but_never_before_the_undo_window_ends(
    sessions: Sessions, send_in: timedelta, due_in: timedelta
) -> None:
    seed = await seed_account(sessions)  # default undo window: 10 s
    request = make_request(seed, send_at=T0 + send_in)
    async with sessions() as session, session.begin():
        await handle_outbound(session, make_event(seed, request), now=T0)
    [row] = await rows_for(sessions, request.outbound_id)
    assert row.next_attempt_at == T0 + due_in


async def test_unusable_outbound_settings_fall_back_to_the_defaults(sessions: Sessions) -> None:
    """A bad policy does not stop mail: the default undo window applies."""
    seed = await seed_account(sessions, settings={"outbound": {"undo_seconds": "soon"}})
    request = make_request(seed)
    async with sessions() as session, session.begin():
        outcome = await handle_outbound(session, make_event(seed, request), now=T0)
    assert outcome.next_attempt_at == T0 + timedelta(seconds=10)


async def test_redelivery_and_rerequest_record_once(sessions: Sessions) -> None:
    """The same event twice, or the same outbound_id in a new event, leaves one row."""
    seed = await seed_account(sessions)
    request = make_request(seed)
    event = make_event(seed, request)
    rerequest = new_envelope(event.type, request, tenant_id=seed.tenant.id)
    outcomes = []
    for e in (event, event, rerequest):
        async with sessions() as session, session.begin():
            outcomes.append((await handle_outbound(session, e, now=T0)).status)

    assert outcomes == [OutboundStatus.SCHEDULED, None, None]
    [row] = await rows_for(sessions, request.outbound_id)
    assert row.attempt_log[0]["event_id"] == str(event.id)


async def test_account_of_another_tenant_is_refused(sessions: Sessions) -> None:
    """A request naming another tenant's account writes no row and emits a permanent mail.failed."""
    seed, other = await seed_account(sessions), await seed_account(sessions)
    request = make_request(other)
    event = make_event(seed, request)
    async with sessions() as session, session.begin():
        outcome = await handle_outbound(session, event)
    assert outcome.emitted
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(col(OutboundMessage.id) == request.outbound_id)
        )
        failed = await session.get(OutboxEvent, derived_event_id(event.id, "mail.failed"))
    assert count == 0
    assert failed is not None
    assert (failed.service, failed.routing_key) == ("outbound", "mail.failed")
    body: dict[str, Any] = json.loads(failed.body)
    assert body["payload"]["permanent"] is True
    assert "another tenant" in body["payload"]["reason"]
    assert body["tenant_id"] == str(seed.tenant.id)
