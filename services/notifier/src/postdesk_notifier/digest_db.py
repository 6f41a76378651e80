"""The digest's queries: who is due, the claim, and each mailbox's day.

Who is due, without schedule maths per user: users mostly share a few
schedules, so the scan reads the distinct (timezone, working hours) pairs of
the opted-in users, works out in Python (digest.ended_days) which of them
ended a day in the catch-up period, and only then asks for the users of those
schedules that have no digest row for that local date. In a minute when no
schedule's day ended that second query is not run at all.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier.digest import AccountActivity, EndedDay, WaitingTicket

OPTED_IN = "u.is_active AND u.notification_preferences -> 'digest' -> 'email' = 'true'::jsonb"

_SCHEDULES = text(
    f"SELECT DISTINCT u.timezone, u.working_hours FROM users u WHERE {OPTED_IN}"  # noqa: S608  # constant
)

_DUE = text(
    f"""
WITH ended AS (
    SELECT * FROM unnest(
        CAST(:zones AS text[]), CAST(CAST(:hours AS text[]) AS jsonb[]), CAST(:days AS date[])
    ) WITH ORDINALITY AS n(timezone, working_hours, day, position)
)
SELECT u.id AS user_id, u.tenant_id, u.email, u.full_name, u.notification_preferences,
       n.position
FROM ended n
JOIN users u ON u.timezone = n.timezone AND u.working_hours = n.working_hours
WHERE {OPTED_IN}
  -- a cheap first cut: only the users of these zones get their hours compared
  AND u.timezone = ANY(CAST(:zones AS text[]))
  AND NOT EXISTS (
      SELECT 1 FROM notification_digests g WHERE g.user_id = u.id AND g.local_date = n.day)
ORDER BY n.position, u.id
LIMIT :batch
"""  # noqa: S608  # only constant fragments are formatted in
)


@dataclass(frozen=True)
class Candidate:
    """A user whose working day ended (`day`) and who has no digest for it yet."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    full_name: str
    preferences: dict[str, Any]
    day: EndedDay

    @property
    def local_date(self) -> date:
        return self.day.local_date


async def opted_in_schedules(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    """The distinct (timezone, working hours) of active users who want the digest."""
    return [(row.timezone, row.working_hours) for row in await session.execute(_SCHEDULES)]


async def due_candidates(
    session: AsyncSession, ended: Sequence[EndedDay], batch: int
) -> list[Candidate]:
    """Opted-in active users of the schedules in `ended` without a digest for that local date,
    in the order of `ended`, at most `batch`."""
    if not ended:
        return []
    rows = await session.execute(
        _DUE,
        {
            "zones": [e.timezone for e in ended],
            "hours": [json.dumps(e.working_hours) for e in ended],
            "days": [e.local_date for e in ended],
            "batch": batch,
        },
    )
    return [
        Candidate(
            user_id=r.user_id,
            tenant_id=r.tenant_id,
            email=r.email,
            full_name=r.full_name,
            preferences=r.notification_preferences,
            day=ended[r.position - 1],
        )
        for r in rows
    ]


_CLAIM = text(
    """
INSERT INTO notification_digests (user_id, local_date, tenant_id, summary, created_at)
SELECT c.user_id, c.local_date, c.tenant_id, '{}'::jsonb, :now
FROM unnest(CAST(:users AS uuid[]), CAST(:days AS date[]), CAST(:tenants AS uuid[]))
     AS c(user_id, local_date, tenant_id)
ORDER BY c.user_id, c.local_date
ON CONFLICT (user_id, local_date) DO NOTHING
RETURNING user_id, local_date
"""
)


async def claim_digests(
    session: AsyncSession, claims: Sequence[Candidate], now: datetime
) -> set[tuple[uuid.UUID, date]]:
    """Insert the digest rows of `claims`; the (user, local date) pairs this transaction won.

    A pair another transaction holds waits for it and is then left out, so each digest is
    composed once across replicas. Rows go in key order, so two claimers never deadlock."""
    if not claims:
        return set()
    inserted = await session.execute(
        _CLAIM,
        {
            "users": [c.user_id for c in claims],
            "days": [c.local_date for c in claims],
            "tenants": [c.tenant_id for c in claims],
            "now": now,
        },
    )
    return {(row.user_id, row.local_date) for row in inserted}


@dataclass(frozen=True)
class DigestRecord:
    """What a claimed digest row ends up holding: sent (outbound_id) or skipped."""

    user_id: uuid.UUID
    local_date: date
    summary: dict[str, Any]
    outbound_id: uuid.UUID | None


_RECORD = text(
    """
UPDATE notification_digests d SET summary = r.summary, outbound_id = r.outbound_id
FROM unnest(
    CAST(:users AS uuid[]), CAST(:days AS date[]),
    CAST(CAST(:summaries AS text[]) AS jsonb[]), CAST(:outbounds AS uuid[])
) AS r(user_id, local_date, summary, outbound_id)
WHERE d.user_id = r.user_id AND d.local_date = r.local_date
"""
)


async def record_digests(session: AsyncSession, records: Sequence[DigestRecord]) -> None:
    """Store the summary and outbound id of claimed digests."""
    if records:
        await session.execute(
            _RECORD,
            {
                "users": [r.user_id for r in records],
                "days": [r.local_date for r in records],
                "summaries": [json.dumps(r.summary) for r in records],
                "outbounds": [r.outbound_id for r in records],
            },
        )


_FROM_ACCOUNTS = text(
    """
SELECT t.id AS tenant_id,
       COALESCE(
           (SELECT a.id FROM email_accounts a
             WHERE a.tenant_id = t.id AND a.is_active
               AND a.id::text = t.settings ->> 'notifications_from_account_id'),
           (SELECT a.id FROM email_accounts a
             WHERE a.tenant_id = t.id AND a.is_active AND a.kind = 'shared'
             ORDER BY a.created_at, a.id LIMIT 1)
       ) AS account_id
FROM tenants t WHERE t.id = ANY(CAST(:tenants AS uuid[]))
"""
)


async def from_accounts(
    session: AsyncSession, tenant_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    """The account each tenant sends notifications from: the configured one while it is
    active, else its first active shared account; None when it has neither."""
    rows = await session.execute(_FROM_ACCOUNTS, {"tenants": list(tenant_ids)})
    return {row.tenant_id: row.account_id for row in rows}


@dataclass(frozen=True)
class ReceivedAccount:
    account_id: uuid.UUID
    address: str


_RECEIVED_ACCOUNTS = text(
    """
SELECT s.user_id, a.id AS account_id, a.address
FROM email_assignments s JOIN email_accounts a ON a.id = s.account_id
WHERE s.user_id = ANY(CAST(:users AS uuid[])) AND s.is_active AND s.can_receive AND a.is_active
ORDER BY s.user_id, a.address
"""
)


async def received_accounts(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ReceivedAccount]]:
    """Per user, the active mailboxes they are actively assigned to receive mail of."""
    found: dict[uuid.UUID, list[ReceivedAccount]] = defaultdict(list)
    for row in await session.execute(_RECEIVED_ACCOUNTS, {"users": list(user_ids)}):
        found[row.user_id].append(ReceivedAccount(row.account_id, row.address))
    return found


_ACTIVITY = text(
    """
SELECT a.id AS account_id,
  (SELECT count(*) FROM tickets t
    WHERE t.tenant_id = a.tenant_id AND t.account_id = a.id AND t.merged_into_id IS NULL
      AND t.created_at >= :start AND t.created_at < :end) AS new_tickets,
  (SELECT count(*) FROM tickets t JOIN messages m ON m.ticket_id = t.id
    WHERE t.tenant_id = a.tenant_id AND t.account_id = a.id AND t.last_message_at >= :start
      AND m.direction = 'inbound'
      AND COALESCE(m.received_at, m.created_at) >= :start
      AND COALESCE(m.received_at, m.created_at) < :end) AS customer_messages,
  (SELECT count(*) FROM tickets t
    WHERE t.tenant_id = a.tenant_id AND t.account_id = a.id AND t.merged_into_id IS NULL
      AND t.status IN ('open', 'pending')) AS open_or_pending,
  (SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id
    WHERE s.tenant_id = a.tenant_id AND t.account_id = a.id
      AND s.breached_at >= :start AND s.breached_at < :end) AS sla_breaches
FROM email_accounts a WHERE a.id = ANY(CAST(:accounts AS uuid[]))
"""
)


async def account_activity(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, AccountActivity]:
    """Each mailbox's day in [start, end), with what is open or pending now.

    A customer message counts by when postdesk received it (its ticket's last_message_at
    is at least that, which lets the inbox index find the tickets)."""
    rows = await session.execute(
        _ACTIVITY, {"accounts": list(account_ids), "start": start, "end": end}
    )
    return {
        row.account_id: AccountActivity(
            new_tickets=row.new_tickets,
            customer_messages=row.customer_messages,
            open_or_pending=row.open_or_pending,
            sla_breaches=row.sla_breaches,
        )
        for row in rows
    }


_ASSIGNED_OPEN = text(
    """
SELECT t.assignee_id, t.account_id, count(*) AS open
FROM tickets t
WHERE t.assignee_id = ANY(CAST(:users AS uuid[])) AND t.account_id = ANY(CAST(:accounts AS uuid[]))
  AND t.status IN ('open', 'pending') AND t.merged_into_id IS NULL
GROUP BY t.assignee_id, t.account_id
"""
)


async def assigned_open(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], account_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """(user, account) -> the user's open or pending tickets in that mailbox."""
    rows = await session.execute(
        _ASSIGNED_OPEN, {"users": list(user_ids), "accounts": list(account_ids)}
    )
    return {(row.assignee_id, row.account_id): row.open for row in rows}


# "Waiting" is the router's rule for unanswered tickets: open, and no agent reply since the
# customer last wrote; it has waited since that message.
_OLDEST_WAITING = text(
    """
SELECT a.id AS account_id, w.number, w.subject, w.waiting_since
FROM email_accounts a
CROSS JOIN LATERAL (
    SELECT t.number, t.subject, COALESCE(t.last_customer_message_at, t.created_at) AS waiting_since
    FROM tickets t
    WHERE t.tenant_id = a.tenant_id AND t.account_id = a.id AND t.status = 'open'
      AND t.merged_into_id IS NULL
      AND (t.last_agent_reply_at IS NULL
           OR t.last_agent_reply_at < COALESCE(t.last_customer_message_at, t.created_at))
    ORDER BY waiting_since, t.number
    LIMIT :limit
) AS w
WHERE a.id = ANY(CAST(:accounts AS uuid[]))
ORDER BY a.id, w.waiting_since, w.number
"""
)


async def oldest_waiting(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], limit: int
) -> dict[uuid.UUID, list[WaitingTicket]]:
    """Per mailbox, up to `limit` tickets waiting longest for an answer, longest first."""
    found: dict[uuid.UUID, list[WaitingTicket]] = defaultdict(list)
    rows = await session.execute(_OLDEST_WAITING, {"accounts": list(account_ids), "limit": limit})
    for row in rows:
        found[row.account_id].append(WaitingTicket(row.number, row.subject, row.waiting_since))
    return found
