"""Payloads of the events postdesk publishes, one model per event type.

Bodies and attachments never travel on the broker: payloads carry blob
references (claim check), `blob_ref` strings understood by the blob store.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from postdesk_contracts.envelope import EventType, Payload

MAX_PREVIEW_CHARS = 500


class Channel(StrEnum):
    """How a message reached ingest."""

    WEBHOOK = "webhook"
    SMTP = "smtp"
    LMTP = "lmtp"
    IMAP = "imap"
    MAILDIR = "maildir"


class MailKind(StrEnum):
    """What kind of mail the parser judged a message to be."""

    HUMAN = "human"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"
    SPAM = "spam"


class Address(Payload):
    """A mailbox: display name and lower-cased address."""

    name: str = ""
    email: str


class Attachment(Payload):
    filename: str
    content_type: str
    size: int
    blob_ref: str
    content_id: str | None = None
    inline: bool = False
    sha256: str = ""
    sniffed_type: str | None = Field(
        default=None,
        description="type sniffed from the bytes when it differs from the declared one",
    )


class BounceReport(Payload):
    """What an RFC 3464 delivery status notification says failed."""

    failed_recipients: list[str] = Field(default_factory=list)
    status: str = Field(default="", description="enhanced status code, e.g. 5.1.1")
    reason: str = Field(default="", description="diagnostic text from the reporting MTA")
    original_message_id: str | None = None


class MailClassification(Payload):
    kind: MailKind = MailKind.HUMAN
    auto_submitted: str | None = Field(default=None, description="Auto-Submitted header value")
    reasons: list[str] = Field(default_factory=list)


class MailReceived(Payload):
    """Raw bytes are durable in the blob store; nothing is parsed yet."""

    raw_blob_ref: str
    sha256: str
    size: int
    channel: Channel
    envelope_sender: str | None = None
    envelope_recipients: list[str] = Field(default_factory=list)
    received_at: datetime
    source: str = Field(default="", description="channel-specific source, e.g. webhook name")


class MailParsed(Payload):
    """A message understood: addresses, threading keys, text and attachments."""

    raw_blob_ref: str
    sha256: str
    body_blob_ref: str = Field(description="JSON document {text, html} in the blob store")
    message_id: str = Field(description="Message-ID without angle brackets; synthesised if absent")
    message_id_synthesised: bool = False
    in_reply_to: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    subject: str = ""
    from_: Address | None = Field(default=None, alias="from")
    reply_to: list[Address] = Field(default_factory=list)
    to: list[Address] = Field(default_factory=list)
    cc: list[Address] = Field(default_factory=list)
    delivered_to: list[str] = Field(
        default_factory=list, description="Delivered-To, then X-Original-To addresses"
    )
    envelope_recipients: list[str] = Field(default_factory=list)
    date: datetime | None = None
    text_preview: str = Field(default="", max_length=MAX_PREVIEW_CHARS)
    attachments: list[Attachment] = Field(default_factory=list)
    classification: MailClassification = Field(default_factory=MailClassification)
    channel: Channel = Channel.WEBHOOK
    received_at: datetime
    source: str = Field(default="", description="ingest source, e.g. imap-backfill")
    normalized_subject: str = Field(
        default="", description="subject without Re:/Fwd:/AW:/... prefixes"
    )
    ticket_tag: str | None = Field(default=None, description="a ticket tag found in the subject")
    thread_index: str | None = Field(default=None, description="Outlook Thread-Index header")
    thread_root: str | None = Field(
        default=None, description="conversation GUID decoded from Thread-Index (hex)"
    )
    plus_tokens: list[str] = Field(
        default_factory=list, description="tags of plus-addressed recipients (reply+TOKEN@)"
    )
    language: str | None = Field(default=None, description="ISO 639-1 code of the new text")
    sentiment: str | None = Field(default=None, description="positive, neutral or negative")
    bounce: BounceReport | None = None
    has_calendar: bool = False
    limits_hit: list[str] = Field(
        default_factory=list,
        description="parser limits this message reached (parsed as far as safe)",
    )

    model_config = Payload.model_config | {"populate_by_name": True}


class MailRejected(Payload):
    """A message that could not be taken further; the raw bytes stay retrievable."""

    raw_blob_ref: str
    sha256: str
    stage: str = Field(description="service that rejected it: parser, router, ...")
    reason: str
    message_id: str | None = None


class TicketCreated(Payload):
    ticket_id: uuid.UUID
    number: int
    account_id: uuid.UUID
    department_id: uuid.UUID | None = None
    subject: str
    customer_email: str
    first_message_id: uuid.UUID
    priority: str = "normal"
    linked_ticket_id: uuid.UUID | None = Field(
        default=None,
        description="the ticket this one follows up or that its sender could not join",
    )
    imported: bool = Field(
        default=False, description="from a mailbox backfill: no notifications, no auto-reply"
    )


class TicketMessageAdded(Payload):
    ticket_id: uuid.UUID
    message_id: uuid.UUID
    account_id: uuid.UUID
    direction: str = Field(description="inbound or outbound")
    match_rule: str = Field(description="why the message joined this ticket")
    sender_email: str
    mail_kind: str = Field(default="human", description="human, auto_reply, bounce, list, spam")
    imported: bool = False
    opened_ticket: bool = Field(
        default=False, description="the message opened the ticket (it is its first message)"
    )


class TicketAssigned(Payload):
    ticket_id: uuid.UUID
    account_id: uuid.UUID
    assignee_id: uuid.UUID
    previous_assignee_id: uuid.UUID | None = None
    rule: str = Field(description="which assignment rule chose the assignee")
    reason: str = ""
    assigned_by: uuid.UUID | None = Field(
        default=None, description="the user who assigned it; None when a rule did"
    )
    imported: bool = False


class TicketChange(Payload):
    """One field of a ticket that changed, as text (None for no value)."""

    field: str
    old: str | None = None
    new: str | None = None


class TicketUpdated(Payload):
    """A ticket changed (status, priority, ...) for a reason other than a new message or
    an assignment, which have events of their own."""

    ticket_id: uuid.UUID
    account_id: uuid.UUID
    changes: list[TicketChange]
    rule: str = Field(description="why: reopened-by-customer, agent, sla, ...")
    reason: str = ""
    actor_id: uuid.UUID | None = Field(default=None, description="None when a rule changed it")


class TicketNoteAdded(Payload):
    """An agent added an internal note; the users it @mentions may see the ticket."""

    ticket_id: uuid.UUID
    account_id: uuid.UUID
    note_id: uuid.UUID
    author_id: uuid.UUID
    mentioned_user_ids: list[uuid.UUID] = Field(default_factory=list)
    excerpt: str = Field(default="", max_length=500, description="the note's start, as text")


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class SlaWarning(Payload):
    """An SLA target will be missed soon (the policy's warning threshold passed)."""

    ticket_id: uuid.UUID
    account_id: uuid.UUID
    target: SlaTarget
    policy_id: uuid.UUID | None = None
    due_at: datetime
    warned_at: datetime
    assignee_id: uuid.UUID | None = None


class SlaBreached(Payload):
    ticket_id: uuid.UUID
    account_id: uuid.UUID
    target: SlaTarget
    due_at: datetime
    breached_at: datetime
    assignee_id: uuid.UUID | None = None
    policy_id: uuid.UUID | None = None


class OutboundRequested(Payload):
    """Send one email through the tenant's SMTP settings."""

    outbound_id: uuid.UUID
    account_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    kind: str = Field(description="reply, compose, auto_reply or notification")
    to: list[Address]
    cc: list[Address] = Field(default_factory=list)
    bcc: list[Address] = Field(default_factory=list)
    subject: str
    text: str = Field(default="", max_length=200_000)
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    requested_by: uuid.UUID | None = None
    message_id: str | None = Field(
        default=None,
        description="Message-ID to send with (no angle brackets), signed by postdesk; "
        "outbound derives one from outbound_id when absent",
    )
    reply_to: list[Address] = Field(
        default_factory=list, description="Reply-To, e.g. a reply-token address of the ticket"
    )
    auto_submitted: str | None = Field(
        default=None, description="Auto-Submitted header value (RFC 3834), e.g. auto-replied"
    )
    html: str | None = Field(default=None, max_length=1_000_000, description="HTML alternative")
    attachments: list[Attachment] = Field(default_factory=list)
    send_at: datetime | None = Field(
        default=None, description="send no earlier than this (scheduled send); None: now"
    )


class MailSent(Payload):
    outbound_id: uuid.UUID
    account_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    message_id: str
    smtp_response: str = ""
    raw_blob_ref: str | None = Field(default=None, description="the sent copy, as sent")
    sent_at: datetime | None = None


class OutboundCancelled(Payload):
    """An outbound message undone before it was sent."""

    outbound_id: uuid.UUID
    account_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    cancelled_by: uuid.UUID | None = None


class MailFailed(Payload):
    outbound_id: uuid.UUID
    account_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    reason: str
    permanent: bool = True


class NotificationCreated(Payload):
    notification_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    ticket_id: uuid.UUID | None = None
    title: str


PAYLOADS: dict[EventType, type[Payload]] = {
    EventType.MAIL_RECEIVED: MailReceived,
    EventType.MAIL_PARSED: MailParsed,
    EventType.MAIL_REJECTED: MailRejected,
    EventType.TICKET_CREATED: TicketCreated,
    EventType.TICKET_ASSIGNED: TicketAssigned,
    EventType.TICKET_MESSAGE_ADDED: TicketMessageAdded,
    EventType.TICKET_UPDATED: TicketUpdated,
    EventType.TICKET_NOTE_ADDED: TicketNoteAdded,
    EventType.SLA_WARNING: SlaWarning,
    EventType.SLA_BREACHED: SlaBreached,
    EventType.OUTBOUND_REQUESTED: OutboundRequested,
    EventType.OUTBOUND_CANCELLED: OutboundCancelled,
    EventType.MAIL_SENT: MailSent,
    EventType.MAIL_FAILED: MailFailed,
    EventType.NOTIFICATION_CREATED: NotificationCreated,
}
"""The payload model of each event type (version 1)."""
