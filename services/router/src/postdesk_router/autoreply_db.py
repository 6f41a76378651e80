"""Sending an account's auto-reply to a routed mail, inside the caller's transaction.

`maybe_auto_reply` applies the stops of `postdesk_router.autoreply` in
order (account enabled, the mail, the address answered, the schedule,
postdesk's own addresses, the per-address window, the caps) and either
requests the reply through the outbox (outbound.requested, kind
"auto_reply") and logs it in automatic_mails, or records why not.

Invariants:
- Windows and caps count automatic_mails rows created at the `now` the
  caller passes; the row and the outbound event commit together, so a
  counted mail is a requested one and the reverse.
- Before counting, the transaction takes advisory locks on (tenant, address
  answered) and on the ticket, so replicas answering one address, or one
  ticket, count one after the other: two can never both pass the window or
  those caps. The tenant-wide cap is not serialised (that would serialise a
  tenant's routing); concurrent replicas may overshoot it by at most their
  number minus one.
- Ids derive from the mail.parsed event: outbound_id = uuid5(event id,
  "auto-reply"), the event id from it as well, so a redelivered event
  requests the same mail, and a second call for one event requests nothing.
- Every decision on an account with auto-reply enabled leaves a
  ticket_history row (kind "auto_reply", rule "sent" or "suppressed", the
  reason as detail); an account with auto-reply off leaves none.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from postdesk_contracts import (
    Address,
    Envelope,
    EventType,
    MailParsed,
    OutboundRequested,
    new_envelope,
)
from postdesk_contracts.addressing import domain_of, without_plus
from postdesk_contracts.envelope import derived_event_id
from postdesk_runtime import ThreadTokens, add_to_outbox, insert_rows
from postdesk_schema import AutomaticMail, EmailAccount, TicketHistory
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_router.autoreply import (
    AUTO_SUBMITTED,
    DEFAULT_CAPS,
    KIND,
    MAX_TEXT_CHARS,
    AutoReplySettings,
    Cap,
    CapScope,
    cap_reason,
    exceeded_cap,
    one_line,
    reply_recipient,
    reply_references,
    reply_subject,
    reply_text,
    suppression_reason,
    window_reason,
)
from postdesk_router.db import STAGE, advisory_locks

OUTBOUND_ID_NAME = "auto-reply"
SENT = "sent"
SUPPRESSED = "suppressed"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AutoReplyOutcome:
    sent: bool
    reason: str
    outbound_id: uuid.UUID | None = None


async def maybe_auto_reply(
    session: AsyncSession,
    *,
    event: Envelope[MailParsed],
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    ticket_id: uuid.UUID,
    ticket_number: int,
    ticket_subject: str,
    tokens: ThreadTokens,
    now: datetime,
    message_id: uuid.UUID | None = None,
    caps: Sequence[Cap] = DEFAULT_CAPS,
) -> AutoReplyOutcome:
    """Auto-reply to `event`'s mail, routed to `ticket_id` of `account_id`, if every stop
    allows it. `message_id` is the stored message's row id, for the history row. The rows
    written are flushed before it returns."""
    outcome = await _decide(
        session,
        event=event,
        tenant_id=tenant_id,
        account_id=account_id,
        ticket_id=ticket_id,
        ticket_number=ticket_number,
        ticket_subject=ticket_subject,
        tokens=tokens,
        now=now,
        message_id=message_id,
        caps=caps,
    )
    await session.flush()
    return outcome


async def _decide(
    session: AsyncSession,
    *,
    event: Envelope[MailParsed],
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    ticket_id: uuid.UUID,
    ticket_number: int,
    ticket_subject: str,
    tokens: ThreadTokens,
    now: datetime,
    message_id: uuid.UUID | None,
    caps: Sequence[Cap],
) -> AutoReplyOutcome:
    settings = await _settings(session, tenant_id, account_id)
    if settings is None:
        return AutoReplyOutcome(False, "no active account of the tenant")
    if not settings.enabled:
        return AutoReplyOutcome(False, "auto-reply disabled")
    outbound_id = uuid.uuid5(event.id, OUTBOUND_ID_NAME)
    if await _already_requested(session, ticket_id, outbound_id):
        return AutoReplyOutcome(True, "already requested for this mail", outbound_id)

    history = _History(tenant_id, ticket_id, message_id, now)
    mail = event.payload
    recipient = reply_recipient(mail)
    reason = suppression_reason(mail, settings, now)
    if reason is None and recipient is not None:
        reason = await _own_address_reason(session, recipient.email, mail)
    if reason is not None or recipient is None:
        return await history.suppressed(session, reason or "no address to answer")

    await _lock(session, tenant_id, recipient.email, ticket_id)
    earlier, counts = await _counts(
        session, tenant_id, account_id, ticket_id, recipient.email, settings, now, caps
    )
    reason = window_reason(earlier, settings.window_minutes, recipient.email)
    if reason is None and (cap := exceeded_cap(counts)) is not None:
        reason = cap_reason(cap)
    if reason is not None:
        return await history.suppressed(session, reason)

    body = reply_text(settings.message, settings.signature)
    if len(body) > MAX_TEXT_CHARS:
        return await history.suppressed(
            session, f"auto-reply longer than {MAX_TEXT_CHARS} characters"
        )
    request = OutboundRequested(
        outbound_id=outbound_id,
        account_id=account_id,
        ticket_id=ticket_id,
        kind=KIND,
        to=[recipient],
        subject=reply_subject(settings.subject, ticket_subject, ticket_number),
        text=body,
        # a Message-ID the parser made up names nothing the sender's client knows
        in_reply_to=None if mail.message_id_synthesised else mail.message_id,
        references=[]
        if mail.message_id_synthesised
        else reply_references(mail.references, mail.message_id),
        message_id=tokens.message_id(ticket_id, str(outbound_id), domain_of(settings.address)),
        reply_to=_reply_to(tokens, ticket_id, settings),
        auto_submitted=AUTO_SUBMITTED,
    )
    requested = new_envelope(
        EventType.OUTBOUND_REQUESTED,
        request,
        tenant_id=tenant_id,
        caused_by=event,
        event_id=derived_event_id(event.id, EventType.OUTBOUND_REQUESTED.value),
    )
    automatic_mail = AutomaticMail(
        tenant_id=tenant_id,
        account_id=account_id,
        ticket_id=ticket_id,
        recipient=recipient.email,
        kind=KIND,
        outbound_id=outbound_id,
        created_at=now,
    )
    await insert_rows(session, [automatic_mail])
    await add_to_outbox(session, STAGE, [requested])
    return await history.sent(
        session, f"auto-reply to {recipient.email}", outbound_id, requested.id
    )


@dataclass(frozen=True)
class _History:
    tenant_id: uuid.UUID
    ticket_id: uuid.UUID
    message_id: uuid.UUID | None
    now: datetime

    async def suppressed(self, session: AsyncSession, reason: str) -> AutoReplyOutcome:
        await self._add(session, SUPPRESSED, reason, None)
        log.info("auto-reply suppressed", reason=reason)
        return AutoReplyOutcome(False, reason)

    async def sent(
        self, session: AsyncSession, reason: str, outbound_id: uuid.UUID, event_id: uuid.UUID
    ) -> AutoReplyOutcome:
        await self._add(session, SENT, reason, event_id)
        log.info("auto-reply requested", outbound_id=str(outbound_id))
        return AutoReplyOutcome(True, reason, outbound_id)

    async def _add(
        self, session: AsyncSession, rule: str, reason: str, event_id: uuid.UUID | None
    ) -> None:
        row = TicketHistory(
            tenant_id=self.tenant_id,
            ticket_id=self.ticket_id,
            message_id=self.message_id,
            kind=KIND,
            rule=rule,
            detail=reason,
            event_id=event_id,
            created_at=self.now,
        )
        await insert_rows(session, [row])


def _reply_to(
    tokens: ThreadTokens, ticket_id: uuid.UUID, settings: AutoReplySettings
) -> list[Address]:
    address = tokens.reply_address(ticket_id, settings.address)
    return [] if address is None else [Address(name=one_line(settings.display_name), email=address)]


# Statements of every routed mail are built once (building them per call cost more CPU
# than running them).
_ALREADY_REQUESTED = select(col(AutomaticMail.id)).where(
    col(AutomaticMail.ticket_id) == bindparam("ticket_id"),
    col(AutomaticMail.outbound_id) == bindparam("outbound_id"),
)
_SETTINGS = select(
    col(EmailAccount.auto_reply_enabled).label("enabled"),
    col(EmailAccount.auto_reply_message).label("message"),
    col(EmailAccount.auto_reply_subject).label("subject"),
    col(EmailAccount.auto_reply_schedule).label("schedule"),
    col(EmailAccount.auto_reply_window_minutes).label("window_minutes"),
    col(EmailAccount.timezone),
    col(EmailAccount.working_hours),
    col(EmailAccount.signature),
    col(EmailAccount.display_name),
    col(EmailAccount.address),
).where(
    col(EmailAccount.id) == bindparam("account_id"),
    col(EmailAccount.tenant_id) == bindparam("tenant_id"),
    col(EmailAccount.is_active).is_(True),
)


async def _already_requested(
    session: AsyncSession, ticket_id: uuid.UUID, outbound_id: uuid.UUID
) -> bool:
    found = await session.execute(
        _ALREADY_REQUESTED, {"ticket_id": ticket_id, "outbound_id": outbound_id}
    )
    return found.first() is not None


async def _settings(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> AutoReplySettings | None:
    row = (
        await session.execute(_SETTINGS, {"account_id": account_id, "tenant_id": tenant_id})
    ).one_or_none()
    return None if row is None else AutoReplySettings(**row._mapping)


_OWN_ADDRESSES = text(
    """
    SELECT address AS found FROM email_accounts
     WHERE is_active AND address = ANY(CAST(:addresses AS text[]))
    UNION
    SELECT address FROM inbound_addresses
     WHERE is_active AND address = ANY(CAST(:addresses AS text[]))
    UNION
    SELECT d.domain FROM inbound_domains d
      JOIN email_accounts a ON a.id = d.catch_all_account_id
     WHERE a.is_active AND d.domain = ANY(CAST(:domains AS text[]))
    """
)


async def _own_address_reason(
    session: AsyncSession, recipient: str, mail: MailParsed
) -> str | None:
    """Why the address answered, or the sender, is postdesk's own (any tenant's account or
    inbound address, plus-tagged or not, or a domain a catch-all account receives), or None."""
    sender = mail.from_.email.strip().lower() if mail.from_ else ""
    roles = [("address answered", recipient), ("sender", sender)]
    addresses = sorted({k for _, a in roles if a for k in (a, without_plus(a)) if k is not None})
    domains = sorted({domain_of(a) for _, a in roles if a})
    rows = await session.execute(_OWN_ADDRESSES, {"addresses": addresses, "domains": domains})
    found = {row.found for row in rows}
    for role, address in roles:
        if address and (
            address in found or without_plus(address) in found or domain_of(address) in found
        ):
            return f"{role} {address} is a postdesk address"
    return None


async def _lock(
    session: AsyncSession, tenant_id: uuid.UUID, recipient: str, ticket_id: uuid.UUID
) -> None:
    """Serialise auto-replies to one address of a tenant, and on one ticket, until commit.
    Keys are taken in one statement in hash order, so two transactions never wait on each
    other's keys in opposite orders."""
    keys = [f"postdesk.autoreply:{tenant_id}:{recipient}", f"postdesk.autoreply:{ticket_id}"]
    await advisory_locks(session, keys)


async def _counts(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    ticket_id: uuid.UUID,
    recipient: str,
    settings: AutoReplySettings,
    now: datetime,
    caps: Sequence[Cap],
) -> tuple[int, list[tuple[Cap, int]]]:
    """How many auto-replies the account sent `recipient` within its window, and how many
    automatic mails each cap's scope holds within its span; one round trip."""
    parameters: dict[str, Any] = {
        "ticket_id": ticket_id,
        "tenant_id": tenant_id,
        "recipient": recipient,
        "account_id": account_id,
        "window_since": now - timedelta(minutes=settings.window_minutes),
    }
    parameters |= {f"since_{n}": now - cap.span for n, cap in enumerate(caps)}
    statement = _counts_statement(tuple(caps), windowed=settings.window_minutes > 0)
    row = (await session.execute(statement, parameters)).one()
    return int(row[0]), [(cap, int(count)) for cap, count in zip(caps, row[1:], strict=True)]


@functools.cache
def _counts_statement(caps: tuple[Cap, ...], *, windowed: bool) -> Select[Any]:
    """The one SELECT of `_counts` for these caps, with the times and ids as parameters."""
    scopes: dict[CapScope, ColumnElement[bool]] = {
        CapScope.TICKET: col(AutomaticMail.ticket_id) == bindparam("ticket_id"),
        CapScope.RECIPIENT: and_(
            col(AutomaticMail.tenant_id) == bindparam("tenant_id"),
            col(AutomaticMail.recipient) == bindparam("recipient"),
        ),
        CapScope.TENANT: col(AutomaticMail.tenant_id) == bindparam("tenant_id"),
    }
    window: Any = literal(0)
    if windowed:
        window = _count(
            scopes[CapScope.RECIPIENT],
            col(AutomaticMail.account_id) == bindparam("account_id"),
            col(AutomaticMail.kind) == KIND,
            since="window_since",
        )
    counts = (_count(scopes[cap.scope], since=f"since_{n}") for n, cap in enumerate(caps))
    return select(window, *counts)


def _count(*conditions: ColumnElement[bool], since: str) -> Any:
    return (
        select(func.count())
        .select_from(AutomaticMail)
        .where(*conditions, col(AutomaticMail.created_at) > bindparam(since, type_=_TIMESTAMP))
        .scalar_subquery()
    )


_TIMESTAMP = AutomaticMail.__table__.c.created_at.type  # type: ignore[attr-defined]
