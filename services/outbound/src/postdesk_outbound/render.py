"""An outbound request rendered as the message to send: what compose needs, loaded.

`render` reads, inside the caller's transaction (it writes nothing):
- the account (address, display name, signature) of the tenant: From and
  the envelope sender;
- on a ticket: its number, subject and creation time, and how many of our
  messages on it came before this one (Thread-Index depth);
- the signature: the requesting user's `email_signature` if set, else the
  account's, for the kinds of mail that are signed (`wants_signature`);
- the attachments' bytes from the blob store.

The tenant's sending policy (subject tag, Reply-To mode) comes from the
caller, which has read it for the whole batch (`usable_policy`: unusable
settings fall back to the defaults, so a typo does not stop a tenant's mail).

Reply-To is the request's when it names one; else, per policy, the
ticket's reply-token address of the account (`token`, when there is a
ticket and the address fits) or the account's address. Message-ID is the
request's (requesters sign it for a ticket); else `outbound_message_id` in
the account's domain, the id the router stores for a request that names
none, so an answer to it still threads. Errors that no retry can fix (an unknown account or
ticket, a missing attachment, header injection, a bad address) raise
ValueError; a blob store that cannot be reached raises OSError (retry).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import structlog
from postdesk_contracts import Address, Attachment, OutboundRequested
from postdesk_contracts.addressing import domain_of, outbound_message_id
from postdesk_runtime import BlobStore, ThreadTokens
from postdesk_runtime.blobstore import BlobIntegrityError, BlobNotFoundError
from postdesk_schema import EmailAccount, OutboundMessage, Ticket, User
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_outbound.compose import (
    AttachmentPart,
    Conversation,
    compose,
    envelope_recipients,
    wants_signature,
)
from postdesk_outbound.policy import OutboundPolicy

# Mail that never went out does not deepen the conversation.
_NOT_SENT = ("cancelled", "failed", "dead")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Rendered:
    message: EmailMessage
    envelope_from: str
    recipients: list[str]
    message_id: str


async def render(
    session: AsyncSession,
    blobs: BlobStore,
    request: OutboundRequested,
    *,
    tenant_id: uuid.UUID,
    tokens: ThreadTokens,
    policy: OutboundPolicy,
    date: datetime | None = None,
) -> Rendered:
    """The message for `request` of `tenant_id` under the tenant's sending `policy` (the
    sender has it already); `date` (default now) is its Date."""
    account = await _account(session, tenant_id, request.account_id)
    conversation = await _conversation(session, tenant_id, request) if request.ticket_id else None
    message_id = request.message_id or outbound_message_id(
        request.outbound_id, domain_of(account.address)
    )
    completed = request.model_copy(
        update={
            "message_id": message_id,
            "reply_to": request.reply_to or _reply_to(policy, tokens, account, request.ticket_id),
        }
    )
    message = compose(
        completed,
        from_address=Address(name=account.display_name, email=account.address),
        date=date,
        conversation=conversation,
        subject_tag=policy.subject_tag,
        signature=await _signature(session, tenant_id, request, account),
        attachments=[await _attachment(blobs, a) for a in request.attachments],
    )
    return Rendered(
        message=message,
        envelope_from=account.address,
        recipients=envelope_recipients(request),
        message_id=message_id,
    )


async def _account(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> EmailAccount:
    account = (
        await session.scalars(
            select(EmailAccount).where(
                col(EmailAccount.id) == account_id, col(EmailAccount.tenant_id) == tenant_id
            )
        )
    ).one_or_none()
    if account is None:
        raise ValueError(f"the tenant has no account {account_id}")
    return account


async def _conversation(
    session: AsyncSession, tenant_id: uuid.UUID, request: OutboundRequested
) -> Conversation:
    ticket = (
        await session.execute(
            select(
                col(Ticket.id), col(Ticket.number), col(Ticket.subject), col(Ticket.created_at)
            ).where(col(Ticket.id) == request.ticket_id, col(Ticket.tenant_id) == tenant_id)
        )
    ).first()
    if ticket is None:
        raise ValueError(f"the tenant has no ticket {request.ticket_id}")
    return Conversation(
        ticket_id=ticket.id,
        number=ticket.number,
        subject=ticket.subject,
        started_at=ticket.created_at,
        earlier_messages=await _earlier_messages(session, tenant_id, ticket.id, request),
    )


async def _earlier_messages(
    session: AsyncSession, tenant_id: uuid.UUID, ticket_id: uuid.UUID, request: OutboundRequested
) -> int:
    """Our messages on the ticket recorded before this one (all of them, if this one is not
    recorded), not counting those that never went out."""
    this_recorded = (
        select(col(OutboundMessage.created_at))
        .where(col(OutboundMessage.id) == request.outbound_id)
        .scalar_subquery()
    )
    count = await session.execute(
        select(func.count())
        .select_from(OutboundMessage)
        .where(
            col(OutboundMessage.tenant_id) == tenant_id,
            col(OutboundMessage.ticket_id) == ticket_id,
            col(OutboundMessage.id) != request.outbound_id,
            col(OutboundMessage.status).not_in(_NOT_SENT),
            func.coalesce(col(OutboundMessage.created_at) < this_recorded, True),
        )
    )
    return int(count.scalar_one())


def _reply_to(
    policy: OutboundPolicy,
    tokens: ThreadTokens,
    account: EmailAccount,
    ticket_id: uuid.UUID | None,
) -> list[Address]:
    address = account.address
    if policy.reply_to == "token" and ticket_id is not None:
        address = tokens.reply_address(ticket_id, account.address) or account.address
    return [Address(name=account.display_name, email=address)]


async def _signature(
    session: AsyncSession, tenant_id: uuid.UUID, request: OutboundRequested, account: EmailAccount
) -> str:
    if not wants_signature(request.kind):
        return ""
    if request.requested_by is not None:
        own = (
            await session.execute(
                select(col(User.email_signature)).where(
                    col(User.id) == request.requested_by, col(User.tenant_id) == tenant_id
                )
            )
        ).scalar_one_or_none()
        if own and own.strip():
            return own
    return account.signature


async def _attachment(blobs: BlobStore, attachment: Attachment) -> AttachmentPart:
    try:
        data = await blobs.get(attachment.blob_ref)
    except (BlobNotFoundError, BlobIntegrityError, ValueError) as error:
        raise ValueError(
            f"attachment {attachment.filename!r} cannot be read from the blob store: {error}"
        ) from error
    return AttachmentPart(
        filename=attachment.filename,
        content_type=attachment.content_type,
        data=data,
        content_id=attachment.content_id,
        inline=attachment.inline,
    )
