"""The email job against the real PostgreSQL: outbound.requested in the outbox, or a reason."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from postdesk_contracts.envelope import derived_event_id
from postdesk_notifier.email_channel import send_due_emails
from postdesk_notifier.email_text import notification_outbound_id
from postdesk_runtime import Sessions
from postdesk_schema import EmailAccount, InboundDomain, Notification, OutboxEvent, User
from sqlalchemy import select
from sqlmodel import col

from .factories import AT_WORK_TIME, WINDOW, Desk, consume_in_transaction, notifications_of

pytestmark = pytest.mark.integration

DUE = AT_WORK_TIME + WINDOW


async def mention_with_email(desk: Desk, **user_fields: Any) -> tuple[User, Notification]:
    """A mention of a new agent (mentions are mailed by default), stored at AT_WORK_TIME."""
    author = await desk.handler("Ana Lopez")
    agent = await desk.user("Bo Agent", **user_fields)
    await desk.assign(agent)
    ticket = await desk.ticket(agent, subject="Refund")
    await consume_in_transaction(
        desk.sessions,
        desk.note_added(ticket, author, agent.id, excerpt="please call"),
        now=AT_WORK_TIME,
    )
    [note] = await notifications_of(desk.sessions, agent)
    assert note.email_status == "pending"
    return agent, note


async def reload(sessions: Sessions, note: Notification) -> Notification:
    async with sessions() as session:
        found = await session.get(Notification, note.id)
        assert found is not None
        return found


async def requested(sessions: Sessions, note: Notification) -> dict[str, Any] | None:
    event_id = derived_event_id(notification_outbound_id(note.id), "outbound.requested")
    async with sessions() as session:
        row = await session.get(OutboxEvent, event_id)
    return json.loads(row.body) if row else None


async def outbound_rows_naming(sessions: Sessions, address: str) -> int:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(col(OutboxEvent.routing_key) == "outbound.requested")
        )
        return sum(address in row.body for row in rows)


async def test_due_notification_is_requested_as_automatic_mail(sessions: Sessions) -> None:
    """Once its window has closed the notification goes out as outbound.requested (kind
    notification, auto-generated, no ticket, to the login address, from the ticket's
    account, with the link) exactly once, and the row says sent."""
    desk = await Desk.create(sessions)
    agent, note = await mention_with_email(desk)

    await send_due_emails(sessions, now=DUE - timedelta(seconds=1), app_url="https://d.example")
    assert await requested(sessions, note) is None
    assert (await reload(sessions, note)).email_status == "pending"
    for later in (DUE, DUE + timedelta(hours=1)):
        await send_due_emails(sessions, now=later, app_url="https://d.example")
    assert await outbound_rows_naming(sessions, agent.email) == 1

    envelope = await requested(sessions, note)
    assert envelope is not None
    assert (envelope["type"], envelope["tenant_id"]) == ("outbound.requested", str(desk.tenant.id))
    request = envelope["payload"]
    assert (request["kind"], request["auto_submitted"], request["ticket_id"]) == (
        "notification",
        "auto-generated",
        None,
    )
    assert request["to"] == [{"name": "Bo Agent", "email": agent.email}]
    assert request["account_id"] == str(desk.account.id)
    assert request["subject"] == "Ana Lopez mentioned you on #1: Refund"
    assert "please call" in request["text"]
    assert f"https://d.example/tickets/{note.ticket_id}" in request["text"]
    sent = await reload(sessions, note)
    assert (sent.email_status, sent.email_outbound_id) == (
        "sent",
        notification_outbound_id(note.id),
    )


@pytest.mark.parametrize(
    ("login", "why"),
    [
        ("{account}", "is this tenant's account"),
        ("{account_plus}", "is a plus/reply-token form of this tenant's account"),
        ("someone@{inbound_domain}", "is at this tenant's inbound domain"),
    ],
)
async def test_an_address_that_would_loop_into_postdesk_is_skipped_with_the_reason(
    sessions: Sessions, login: str, why: str
) -> None:
    """A login address postdesk receives for (an account, its plus form, an inbound domain)
    is never mailed: the row is skipped and says why."""
    desk = await Desk.create(sessions)
    domain = f"in-{uuid.uuid4().hex[:8]}.example"
    async with sessions() as session, session.begin():
        session.add(InboundDomain(tenant_id=desk.tenant.id, domain=domain))
    local, _, account_domain = desk.account.address.partition("@")
    address = login.format(
        account=desk.account.address,
        account_plus=f"{local}+reply@{account_domain}",
        inbound_domain=domain,
    )
    _, note = await mention_with_email(desk, email=address)

    await send_due_emails(sessions, now=DUE)

    skipped = await reload(sessions, note)
    assert skipped.email_status == "skipped"
    assert why in skipped.email_skip_reason
    assert skipped.email_skip_reason.startswith("would loop into postdesk")
    assert await requested(sessions, note) is None


async def test_the_tenants_notification_account_sends_when_active(sessions: Sessions) -> None:
    """tenants.settings notifications_from_account_id names the sender while it is active;
    an inactive one falls back to the ticket's account."""
    desk = await Desk.create(sessions)
    system = await desk.account2()
    async with sessions() as session, session.begin():
        tenant = await session.get(type(desk.tenant), desk.tenant.id)
        assert tenant is not None
        tenant.settings = {"notifications_from_account_id": str(system.id)}
    _, first = await mention_with_email(desk)
    await send_due_emails(sessions, now=DUE)
    async with sessions() as session, session.begin():
        stored = await session.get(EmailAccount, system.id)
        assert stored is not None
        stored.is_active = False
    _, second = await mention_with_email(desk)
    await send_due_emails(sessions, now=DUE)

    first_request, second_request = (
        await requested(sessions, first),
        await requested(sessions, second),
    )
    assert first_request is not None
    assert second_request is not None
    assert first_request["payload"]["account_id"] == str(system.id)
    assert second_request["payload"]["account_id"] == str(desk.account.id)


async def test_no_mail_to_a_deactivated_user(sessions: Sessions) -> None:
    """A user deactivated before the mail was due gets none; the row says why."""
    desk = await Desk.create(sessions)
    agent, note = await mention_with_email(desk)
    async with sessions() as session, session.begin():
        stored = await session.get(User, agent.id)
        assert stored is not None
        stored.is_active = False

    await send_due_emails(sessions, now=DUE)

    skipped = await reload(sessions, note)
    assert (skipped.email_status, skipped.email_skip_reason) == (
        "skipped",
        "the user is not active",
    )


async def test_no_mail_without_an_active_account_to_send_from(sessions: Sessions) -> None:
    """With the ticket's account inactive and no notification account set, the row is
    skipped and says so."""
    desk = await Desk.create(sessions)
    _, note = await mention_with_email(desk)
    async with sessions() as session, session.begin():
        stored = await session.get(EmailAccount, desk.account.id)
        assert stored is not None
        stored.is_active = False

    await send_due_emails(sessions, now=DUE)

    skipped = await reload(sessions, note)
    assert (skipped.email_status, skipped.email_skip_reason) == (
        "skipped",
        "the tenant has no active email account to send notifications from",
    )
