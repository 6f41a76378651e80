"""The notifier's subscribers: one per event it consumes (topology.NOTIFIER_EVENTS).

Each handles its event in one transaction (`service.consume`): claim,
notifications for the users it concerns (triggers.PLANNERS), webhook
deliveries for the tenant's subscriptions; then wakes the outbox relay when
it emitted notification.created.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from faststream.rabbit import RabbitBroker
from postdesk_contracts import Envelope, EventType
from postdesk_contracts.events import PAYLOADS
from postdesk_contracts.topology import NOTIFIER_EVENTS, queue_for
from postdesk_runtime import OutboxRelay, Sessions, subscriber

from postdesk_notifier.service import SERVICE, consume
from postdesk_notifier.triggers import PLANNERS


def register_handlers(
    broker: RabbitBroker, sessions: Sessions, relay: OutboxRelay, *, window: timedelta
) -> None:
    for event_type in NOTIFIER_EVENTS:
        handle = _handler(event_type, sessions, relay, window)
        subscriber(broker, queue_for(SERVICE, event_type), description=handle.__doc__ or "")(handle)


def _handler(
    event_type: EventType, sessions: Sessions, relay: OutboxRelay, window: timedelta
) -> Callable[[Envelope[Any]], Awaitable[None]]:
    async def handle(event: Envelope[Any]) -> None:
        async with sessions() as session, session.begin():
            outcome = await consume(session, event, window=window)
        if outcome.emitted:
            relay.wake()

    # FastStream validates the message against the annotation: the event's own payload model.
    handle.__annotations__ = {
        "event": Envelope.__class_getitem__(PAYLOADS[event_type]),
        "return": None,
    }
    name = event_type.value.replace(".", "_")
    handle.__name__ = handle.__qualname__ = f"on_{name}"
    notifies = "notify the users it concerns, " if event_type in PLANNERS else ""
    handle.__doc__ = f"{event_type.value}: {notifies}queue it for the tenant's webhooks."
    return handle
