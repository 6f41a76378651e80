"""Webhook fan-out against the real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from postdesk_contracts import EventType, SlaBreached, SlaTarget, TicketCreated, new_envelope
from postdesk_notifier.webhooks import fan_out
from postdesk_runtime import Sessions
from postdesk_schema import WebhookDelivery
from sqlalchemy import select
from sqlmodel import col

from .factories import consume_in_transaction, make_assigned, seed_ticket
from .webhook_factories import add_subscription

pytestmark = pytest.mark.integration


async def deliveries_of(sessions: Sessions, tenant_id: uuid.UUID) -> list[WebhookDelivery]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(WebhookDelivery).where(col(WebhookDelivery.tenant_id) == tenant_id)
                )
            ).all()
        )


async def test_redelivered_event_fans_out_once(sessions: Sessions) -> None:
    """The same event twice leaves one pending delivery per subscription, with the envelope."""
    seed = await seed_ticket(sessions)
    first = await add_subscription(sessions, seed.tenant.id, ["ticket.assigned"])
    second = await add_subscription(sessions, seed.tenant.id, ["ticket.assigned", "sla.warning"])
    event = make_assigned(seed)

    counts = []
    for _ in range(2):
        async with sessions() as session, session.begin():
            counts.append(await fan_out(session, event))

    assert counts == [2, 0]
    deliveries = await deliveries_of(sessions, seed.tenant.id)
    assert {d.subscription_id for d in deliveries} == {first.id, second.id}
    for delivery in deliveries:
        assert (delivery.status, delivery.attempts, delivery.event_type) == (
            "pending",
            0,
            "ticket.assigned",
        )
        assert delivery.event_id == event.id
        assert delivery.payload == event.model_dump(mode="json", by_alias=True)


async def test_only_active_subscriptions_of_the_type(sessions: Sessions) -> None:
    """Subscriptions to other types and inactive ones get nothing."""
    seed = await seed_ticket(sessions)
    wanted = await add_subscription(sessions, seed.tenant.id, ["ticket.assigned"])
    await add_subscription(sessions, seed.tenant.id, ["ticket.created", "sla.breached"])
    await add_subscription(sessions, seed.tenant.id, ["ticket.assigned"], is_active=False)
    await add_subscription(sessions, seed.tenant.id, [])

    async with sessions() as session, session.begin():
        assert await fan_out(session, make_assigned(seed)) == 1

    [delivery] = await deliveries_of(sessions, seed.tenant.id)
    assert delivery.subscription_id == wanted.id


async def test_other_tenants_subscriptions_get_nothing(sessions: Sessions) -> None:
    """An event reaches only its own tenant's subscriptions; one without a tenant reaches none."""
    ours = await seed_ticket(sessions)
    theirs = await seed_ticket(sessions)
    await add_subscription(sessions, ours.tenant.id, ["ticket.created", "sla.breached"])
    await add_subscription(sessions, theirs.tenant.id, ["ticket.created", "sla.breached"])
    created = new_envelope(
        EventType.TICKET_CREATED,
        TicketCreated(
            ticket_id=ours.ticket.id,
            number=7,
            account_id=ours.account.id,
            subject="Printer on fire",
            customer_email="carol@customer.example",
            first_message_id=uuid.uuid4(),
        ),
        tenant_id=ours.tenant.id,
    )
    breached = new_envelope(
        EventType.SLA_BREACHED,
        SlaBreached(
            ticket_id=ours.ticket.id,
            account_id=ours.account.id,
            target=SlaTarget.FIRST_RESPONSE,
            due_at=created.occurred_at,
            breached_at=created.occurred_at,
        ),
    )

    async with sessions() as session, session.begin():
        assert await fan_out(session, created) == 1
        assert await fan_out(session, breached) == 0

    assert len(await deliveries_of(sessions, ours.tenant.id)) == 1
    assert await deliveries_of(sessions, theirs.tenant.id) == []


async def test_consume_fans_out_only_when_a_subscription_wants_the_event(
    sessions: Sessions,
) -> None:
    """The consumer asks with its claim whether a subscription wants the event and fans out
    only then: nothing while the tenant's subscriptions are of other types, inactive or
    another tenant's; one delivery once an active one of the type exists, not repeated on
    a redelivery."""
    seed = await seed_ticket(sessions)
    other = await seed_ticket(sessions)
    await add_subscription(sessions, seed.tenant.id, ["sla.breached"])
    await add_subscription(sessions, seed.tenant.id, ["ticket.assigned"], is_active=False)
    await add_subscription(sessions, other.tenant.id, ["ticket.assigned"])

    unwanted = await consume_in_transaction(sessions, make_assigned(seed))
    assert unwanted.webhook_deliveries == 0
    assert await deliveries_of(sessions, seed.tenant.id) == []

    wanted = await add_subscription(sessions, seed.tenant.id, ["sla.warning", "ticket.assigned"])
    event = make_assigned(seed)
    first = await consume_in_transaction(sessions, event)
    again = await consume_in_transaction(sessions, event)

    assert (first.webhook_deliveries, again.webhook_deliveries) == (1, 0)
    [delivery] = await deliveries_of(sessions, seed.tenant.id)
    assert (delivery.subscription_id, delivery.event_id) == (wanted.id, event.id)
    assert delivery.payload == event.model_dump(mode="json", by_alias=True)
