"""The SLA scanner: warns and breaches running timers whose moment has come.

Exactly once per ticket and target, with any number of router replicas:
- a timer is claimed with `FOR UPDATE SKIP LOCKED` and marked (`warned_at`,
  `breached_at`) in the transaction that adds its event to the outbox, so a
  replica never sees a timer another is handling and never a handled one
  again (the claim's conditions are re-checked on the row it locks);
- event ids derive from the timer (`derived_event_id(timer.id, "sla.warning")`),
  so even a second emission could not publish a second event.

A timer whose due time passed before it was warned (the warning threshold is
100%, or no scanner ran for a while) gets both events in one scan, warning
first: every breach is preceded by its warning, and `warned_at` always means
a warning went out.

The claims also take `FOR KEY SHARE` of the ticket row with `SKIP LOCKED`:
a timer whose ticket another transaction holds `FOR UPDATE` is left for the
next scan rather than waited for, since that transaction may be about to
wait for this timer (history rows' foreign key would otherwise make the
scanner wait on the ticket while holding the timer).

The claims use the partial indexes ix_sla_timers_warn_due and
ix_sla_timers_breach_due: their predicates are spelled as literals in the
queries so that generic (prepared) plans can use them too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from postdesk_contracts import EventType, SlaBreached, SlaTarget, SlaWarning, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import Sessions
from postdesk_runtime.metrics import record_sla_breaches
from postdesk_runtime.outbox import outbox_row
from postdesk_schema import TicketHistory
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

SERVICE = "router"
DEFAULT_BATCH = 500

_CLAIM = """
WITH claimed AS (
    SELECT s.id, k.account_id, k.assignee_id
    FROM sla_timers s JOIN tickets k ON k.id = s.ticket_id
    WHERE s.state = 'running' AND s.{mark} IS NULL AND s.{moment} <= :now
    ORDER BY s.{moment}
    LIMIT :batch
    FOR UPDATE OF s SKIP LOCKED
    FOR KEY SHARE OF k SKIP LOCKED
)
UPDATE sla_timers s
SET {mark} = :now, updated_at = :now
FROM claimed c
WHERE s.id = c.id
RETURNING s.id, s.tenant_id, s.ticket_id, s.policy_id, s.target, s.due_at,
          c.account_id, c.assignee_id
"""
CLAIM_WARNINGS = text(_CLAIM.format(mark="warned_at", moment="warn_at"))
CLAIM_BREACHES = text(_CLAIM.format(mark="breached_at", moment="due_at"))


async def scan_sla(
    sessions: Sessions, *, now: datetime | None = None, batch: int = DEFAULT_BATCH
) -> int:
    """Warn and breach up to `batch` timers each, in one transaction; the number of events."""
    now = now or datetime.now(UTC)
    async with sessions() as session, session.begin():
        warned = (await session.execute(CLAIM_WARNINGS, {"now": now, "batch": batch})).all()
        history = [_emit(session, row, now, breached=False) for row in warned]
        breached = (await session.execute(CLAIM_BREACHES, {"now": now, "batch": batch})).all()
        history += [_emit(session, row, now, breached=True) for row in breached]
        if history:
            # one multi-row statement: building ORM objects cost more than the rest of a scan
            await session.execute(insert(TicketHistory), history)
    record_sla_breaches(len(breached))  # after the commit: a rolled-back scan breached nothing
    return len(history)


def _emit(session: AsyncSession, row: Any, now: datetime, *, breached: bool) -> dict[str, Any]:
    """Add the outbox row of one warning or breach; return its ticket history row."""
    target = SlaTarget(row.target)
    common: dict[str, Any] = {
        "ticket_id": row.ticket_id,
        "account_id": row.account_id,
        "target": target,
        "policy_id": row.policy_id,
        "due_at": row.due_at,
        "assignee_id": row.assignee_id,
    }
    timer_id: uuid.UUID = row.id
    if breached:
        event_id = derived_event_id(timer_id, EventType.SLA_BREACHED.value)
        envelope: Any = new_envelope(
            EventType.SLA_BREACHED,
            SlaBreached(breached_at=now, **common),
            tenant_id=row.tenant_id,
            event_id=event_id,
        )
    else:
        event_id = derived_event_id(timer_id, EventType.SLA_WARNING.value)
        envelope = new_envelope(
            EventType.SLA_WARNING,
            SlaWarning(warned_at=now, **common),
            tenant_id=row.tenant_id,
            event_id=event_id,
        )
    session.add(outbox_row(SERVICE, envelope))
    return {
        "id": uuid.uuid4(),
        "tenant_id": row.tenant_id,
        "ticket_id": row.ticket_id,
        "kind": "sla",
        "rule": f"{target.value}-{'breached' if breached else 'warning'}",
        "detail": f"due {row.due_at.isoformat()}",
        "event_id": event_id,
        "created_at": now,
    }
