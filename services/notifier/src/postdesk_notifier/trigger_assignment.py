"""A ticket assigned (ticket.assigned): the new assignee, told who (or which rule) did it.

Nobody is told of an assignment of backfilled mail, or of one the assignee
made themselves (composing a new mail assigns its ticket to the author).
"""

from __future__ import annotations

from postdesk_contracts import Envelope, TicketAssigned
from postdesk_contracts.notify_prefs import NotificationKind
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier import recipients_db, titles
from postdesk_notifier.domain import (
    NotificationDraft,
    Skipped,
    draft_for,
    skip_backfill,
    skip_foreign_tenant,
    skip_self_assignment,
)


async def plan_assignment(
    session: AsyncSession, event: Envelope[TicketAssigned]
) -> list[NotificationDraft] | Skipped:
    assigned = event.payload
    if (skipped := skip_backfill(assigned) or skip_self_assignment(assigned)) is not None:
        return skipped
    ticket = await recipients_db.require_ticket(session, assigned.ticket_id)
    if (skipped := skip_foreign_tenant(event.tenant_id, ticket)) is not None:
        return skipped
    # the assignee and the assigner (if a person) in one query
    people = await recipients_db.people(
        session,
        ticket.tenant_id,
        [assigned.assignee_id, *([assigned.assigned_by] if assigned.assigned_by else [])],
    )
    assignee = people.get(assigned.assignee_id)
    if assignee is None:
        return Skipped("assignee is not a user of the ticket's tenant")
    if not assignee.is_active:
        return Skipped("assignee is not active")
    assigner = people.get(assigned.assigned_by) if assigned.assigned_by else None
    title = titles.assigned(ticket, assigner.label if assigner else None, assigned.rule)
    draft = draft_for(
        assignee,
        ticket,
        NotificationKind.ASSIGNED,
        lambda _count: title,
        body=assigned.reason,
        actor_id=assigned.assigned_by,
        data={"rule": assigned.rule},
    )
    return [draft] if draft is not None else []
