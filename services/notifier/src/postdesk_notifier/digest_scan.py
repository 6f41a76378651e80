"""The daily-digest scan: every minute, email the users whose working day just ended.

Once per user and local date, with any number of notifier replicas: the
digest row (user_id, local_date primary key) is the claim. A batch inserts
its rows ON CONFLICT DO NOTHING in one transaction, composes only the ones it
inserted, and adds their outbound.requested to the outbox before it commits;
a replica that raced for the same rows waits for that commit and gets none.
A digest that is not sent (the address would loop into postdesk, no account
to send from, no mailboxes, unusable working hours) still gets its row, with
the reason in summary["skipped"], so it is decided once a day. A day off
(no hours that weekday) has no end, so no row and no digest.

When a day ends is decided by Schedule once per distinct schedule of the
opted-in users (digest.ended_days), not per user; digest_db then finds the
users of the schedules whose day ended.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from postdesk_contracts import Address, EventType, OutboundRequested, new_envelope
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.notify_prefs import NotificationChannel, NotificationKind, wants
from postdesk_runtime import Sessions, outbox_row
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_notifier import digest_db
from postdesk_notifier.digest import (
    MAX_WAITING,
    AccountActivity,
    AccountDigest,
    digest_outbound_id,
    digest_subject,
    digest_text,
    ended_days,
    local_day_start,
    skipped_document,
    summary_document,
)
from postdesk_notifier.digest_db import Candidate, DigestRecord
from postdesk_notifier.loopsafe import loop_risks
from postdesk_notifier.service import SERVICE

KIND = "notification"
AUTO_SUBMITTED = "auto-generated"
DEFAULT_BATCH = 200
DEFAULT_CATCH_UP = timedelta(hours=6)
NO_SENDER = "the tenant has no active account to send notifications from"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Decision:
    """A claimed digest: sent (outbound_id set) or skipped (reason set)."""

    candidate: Candidate
    summary: dict[str, Any]
    outbound_id: uuid.UUID | None = None


async def send_due_digests(
    sessions: Sessions,
    now: datetime,
    batch: int = DEFAULT_BATCH,
    *,
    catch_up: timedelta = DEFAULT_CATCH_UP,
) -> int:
    """Send (or record as skipped) up to `batch` digests whose day ended in the `catch_up`
    period before `now`; the number of digests this call claimed."""
    async with sessions() as session, session.begin():
        schedules = await digest_db.opted_in_schedules(session)
        ended = sorted(
            (day for zone, hours in schedules for day in ended_days(zone, hours, now, catch_up)),
            key=lambda day: day.end,
        )
        candidates = await digest_db.due_candidates(session, ended, batch)
        ready = [
            c
            for c in candidates
            if wants(c.preferences, NotificationKind.DIGEST, NotificationChannel.EMAIL)
        ]
        won = await digest_db.claim_digests(session, ready, now)
        claimed = [c for c in ready if (c.user_id, c.local_date) in won]
        decisions = await _decide(session, claimed, now)
        await digest_db.record_digests(
            session,
            [
                DigestRecord(d.candidate.user_id, d.candidate.local_date, d.summary, d.outbound_id)
                for d in decisions
            ],
        )
    sent = sum(d.outbound_id is not None for d in decisions)
    if decisions:
        log.info("digests", claimed=len(decisions), sent=sent, skipped=len(decisions) - sent)
    return len(decisions)


async def digest_job(
    sessions: Sessions, *, batch: int = DEFAULT_BATCH, catch_up: timedelta = DEFAULT_CATCH_UP
) -> int:
    """send_due_digests as of the current time (the Periodic job)."""
    return await send_due_digests(sessions, datetime.now(UTC), batch, catch_up=catch_up)


async def _decide(
    session: AsyncSession, claimed: Sequence[Candidate], now: datetime
) -> list[_Decision]:
    """Compose the claimed digests: a summary and an outbox row each, or a skip reason."""
    decisions = [
        _Decision(c, skipped_document(c.day.skip_reason))
        for c in claimed
        if c.day.skip_reason is not None
    ]
    composable = [c for c in claimed if c.day.skip_reason is None]
    if not composable:
        return decisions
    senders = await digest_db.from_accounts(session, sorted({c.tenant_id for c in composable}))
    mailboxes = await digest_db.received_accounts(session, [c.user_id for c in composable])
    risks = await _loop_risks(session, composable)
    by_period: dict[tuple[str, date], list[tuple[Candidate, uuid.UUID]]] = defaultdict(list)
    for candidate in composable:
        sender = senders.get(candidate.tenant_id)
        reason = _skip_reason(candidate, risks[candidate.user_id], sender, mailboxes)
        if reason is None and sender is not None:
            by_period[(candidate.day.timezone, candidate.local_date)].append((candidate, sender))
            continue
        reason = reason or NO_SENDER
        log.info("digest not sent", user_id=str(candidate.user_id), reason=reason)
        decisions.append(_Decision(candidate, skipped_document(reason)))
    for (timezone, local_date), group in by_period.items():
        start = local_day_start(local_date, timezone)
        users = [c.user_id for c, _ in group]
        accounts = sorted({m.account_id for user in users for m in mailboxes[user]})
        activity = await digest_db.account_activity(session, accounts, start, now)
        waiting = await digest_db.oldest_waiting(session, accounts, MAX_WAITING)
        own_open = await digest_db.assigned_open(session, users, accounts)
        for candidate, sender in group:
            digests = [
                AccountDigest(
                    account_id=m.account_id,
                    address=m.address,
                    activity=activity.get(m.account_id, AccountActivity()),
                    assigned_to_user_open=own_open.get((candidate.user_id, m.account_id), 0),
                    oldest_waiting=tuple(waiting.get(m.account_id, ())),
                )
                for m in mailboxes[candidate.user_id]
            ]
            outbound_id = _request(session, candidate, sender, digests, now)
            decisions.append(
                _Decision(candidate, summary_document(start, now, digests), outbound_id)
            )
    return decisions


async def _loop_risks(
    session: AsyncSession, candidates: Sequence[Candidate]
) -> dict[uuid.UUID, str | None]:
    """Per user, why mailing their login address would loop into postdesk (or None)."""
    by_tenant: dict[uuid.UUID, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_tenant[candidate.tenant_id].append(candidate)
    risks: dict[uuid.UUID, str | None] = {}
    for tenant_id, users in by_tenant.items():
        found = await loop_risks(session, tenant_id, [c.email for c in users])
        risks.update({c.user_id: found[c.email] for c in users})
    return risks


def _skip_reason(
    candidate: Candidate,
    loop: str | None,
    sender: uuid.UUID | None,
    mailboxes: dict[uuid.UUID, list[digest_db.ReceivedAccount]],
) -> str | None:
    if loop is not None:
        return f"address would loop into postdesk: {loop}"
    if sender is None:
        return NO_SENDER
    if not mailboxes.get(candidate.user_id):
        return "no mailboxes to report on: the user receives mail of none"
    return None


def _request(
    session: AsyncSession,
    candidate: Candidate,
    sender: uuid.UUID,
    digests: Sequence[AccountDigest],
    now: datetime,
) -> uuid.UUID:
    """Add the digest's outbound.requested to the outbox; its outbound id."""
    outbound_id = digest_outbound_id(candidate.user_id, candidate.local_date)
    request = OutboundRequested(
        outbound_id=outbound_id,
        account_id=sender,
        ticket_id=None,
        kind=KIND,
        to=[Address(name=candidate.full_name, email=candidate.email)],
        subject=digest_subject(candidate.local_date, digests),
        text=digest_text(candidate.full_name, candidate.local_date, digests, now),
        auto_submitted=AUTO_SUBMITTED,
    )
    envelope = new_envelope(
        EventType.OUTBOUND_REQUESTED,
        request,
        tenant_id=candidate.tenant_id,
        event_id=derived_event_id(outbound_id, EventType.OUTBOUND_REQUESTED.value),
    )
    session.add(outbox_row(SERVICE, envelope))
    return outbound_id
