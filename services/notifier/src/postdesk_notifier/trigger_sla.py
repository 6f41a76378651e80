"""An SLA target about to be missed or missed (sla.warning, sla.breached), as drafts.

Recipients (`recipients.sla_recipients`): the ticket's assignee, the managers
of its department and the primaries of its account, each once. The title
names the target and its due time in each recipient's own timezone.
"""

from __future__ import annotations

from functools import partial

from postdesk_contracts import Envelope, SlaBreached, SlaWarning
from postdesk_contracts.notify_prefs import NotificationKind
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier import recipients_db, titles
from postdesk_notifier.domain import (
    NotificationDraft,
    Skipped,
    TicketInfo,
    draft_for,
    skip_foreign_tenant,
)
from postdesk_notifier.recipients import sla_recipients


async def plan_sla(
    session: AsyncSession, event: Envelope[SlaWarning] | Envelope[SlaBreached]
) -> list[NotificationDraft] | Skipped:
    sla = event.payload
    breached = isinstance(sla, SlaBreached)
    ticket = await recipients_db.require_ticket(session, sla.ticket_id)
    if (skipped := skip_foreign_tenant(event.tenant_id, ticket)) is not None:
        return skipped
    tenant = ticket.tenant_id
    chosen = sla_recipients(
        assignee=await recipients_db.person(session, tenant, ticket.assignee_id or sla.assignee_id),
        managers=await recipients_db.department_managers(session, tenant, ticket.department_id),
        handlers=await recipients_db.account_handlers(session, tenant, ticket.account_id),
    )
    kind = NotificationKind.SLA_BREACHED if breached else NotificationKind.SLA_WARNING
    drafts = (
        draft_for(
            person,
            ticket,
            kind,
            partial(_title, ticket, sla, person.timezone, breached),
            data={"target": sla.target.value, "due_at": sla.due_at.isoformat()},
        )
        for person in chosen
    )
    return [d for d in drafts if d is not None]


def _title(
    ticket: TicketInfo,
    sla: SlaWarning | SlaBreached,
    timezone: str,
    breached: bool,
    _count: int,
) -> str:
    return titles.sla(ticket, sla.target, sla.due_at, timezone, breached=breached)
