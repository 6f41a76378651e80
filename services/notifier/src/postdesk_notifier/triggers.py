"""Which events notify users, and the planner that decides who and what for each.

Every event the notifier consumes (topology.NOTIFIER_EVENTS) is fanned out to
webhooks; the ones named here also notify users. A planner reads what it
needs in the consuming transaction and returns drafts, or why nobody is told.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from postdesk_contracts import Envelope, EventType
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier.domain import NotificationDraft, Skipped
from postdesk_notifier.trigger_assignment import plan_assignment
from postdesk_notifier.trigger_mention import plan_mention
from postdesk_notifier.trigger_message import plan_message
from postdesk_notifier.trigger_sla import plan_sla

Planner = Callable[[AsyncSession, Envelope[Any]], Awaitable[list[NotificationDraft] | Skipped]]

PLANNERS: dict[EventType, Planner] = {
    EventType.TICKET_MESSAGE_ADDED: plan_message,
    EventType.TICKET_NOTE_ADDED: plan_mention,
    EventType.TICKET_ASSIGNED: plan_assignment,
    EventType.SLA_WARNING: plan_sla,
    EventType.SLA_BREACHED: plan_sla,
}
