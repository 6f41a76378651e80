"""The rows a routed message becomes: ticket, message, attachments."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from postdesk_contracts import Address, MailParsed
from postdesk_runtime import BlobStore
from postdesk_schema import Attachment, Message, Ticket

from postdesk_router.db import AccountRef
from postdesk_router.domain import AssigneeChoice, customer_of, pg_text, ticket_subject


@dataclass(frozen=True)
class Body:
    text: str
    html: str | None
    reply_text: str = ""


async def load_body(blobs: BlobStore, ref: str) -> Body:
    """The parser's body document {"text": ..., "html": ..., "reply_text": ...}."""
    document = json.loads(await blobs.get(ref))
    text, html, reply = document.get("text"), document.get("html"), document.get("reply_text")
    return Body(
        text=pg_text(text) if isinstance(text, str) else "",
        html=pg_text(html) if isinstance(html, str) else None,
        reply_text=pg_text(reply) if isinstance(reply, str) else "",
    )


def new_ticket_row(
    ticket_id: uuid.UUID,
    number: int,
    account: AccountRef,
    mail: MailParsed,
    choice: AssigneeChoice | None,
    *,
    linked_to: uuid.UUID | None = None,
    activity_by_staff: bool | None = None,
) -> Ticket:
    """The ticket `mail` opens; with `activity_by_staff` set, the mail is its latest agent
    reply (True) or customer message (False), as `db.note_activity` records on later mail."""
    sender = customer_of(mail)
    at = mail.received_at
    return Ticket(
        id=ticket_id,
        tenant_id=account.tenant_id,
        number=number,
        account_id=account.id,
        department_id=account.department_id,
        subject=ticket_subject(mail.subject),
        customer_email=sender.email if sender else "",
        customer_name=pg_text(sender.name) if sender else "",
        assignee_id=choice.user_id if choice else None,
        assignment_rule=str(choice.rule) if choice else "",
        linked_ticket_id=linked_to,
        message_count=1,
        last_message_at=at,
        last_customer_message_at=at if activity_by_staff is False else None,
        last_agent_reply_at=at if activity_by_staff else None,
        updated_at=datetime.now(UTC),
    )


def message_row(
    message_id: uuid.UUID,
    ticket_id: uuid.UUID,
    account: AccountRef,
    mail: MailParsed,
    body: Body,
    rule: str,
) -> Message:
    return Message(
        id=message_id,
        tenant_id=account.tenant_id,
        ticket_id=ticket_id,
        account_id=account.id,
        direction="inbound",
        message_id_header=mail.message_id,
        in_reply_to=list(mail.in_reply_to),
        references=list(mail.references),
        subject=pg_text(mail.subject),
        from_email=mail.from_.email if mail.from_ else "",
        from_name=pg_text(mail.from_.name) if mail.from_ else "",
        to=address_rows(mail.to),
        cc=address_rows(mail.cc),
        text_body=body.text,
        html_body=body.html,
        reply_text=body.reply_text,
        text_preview=pg_text(mail.text_preview),
        raw_blob_ref=mail.raw_blob_ref,
        sha256=mail.sha256,
        classification=mail.classification.model_dump(mode="json"),
        match_rule=str(rule),
        sent_at=mail.date,
        received_at=mail.received_at,
    )


def address_rows(addresses: list[Address]) -> list[dict[str, Any]]:
    return [{"name": pg_text(a.name), "email": pg_text(a.email)} for a in addresses]


def attachment_rows(
    message_id: uuid.UUID, tenant_id: uuid.UUID, mail: MailParsed
) -> list[Attachment]:
    return [
        Attachment(
            tenant_id=tenant_id,
            message_id=message_id,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            blob_ref=a.blob_ref,
            content_id=a.content_id,
            inline=a.inline,
        )
        for a in mail.attachments
    ]
