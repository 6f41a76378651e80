"""Schemas of the gateway's HTTP API, shared with its clients.

These are API models only: never table rows, never event payloads, even
where they look alike. Like the events they are frozen and ignore unknown
fields, and they change only compatibly (new optional fields). Status,
priority and role values are plain strings here so that a value added to
the database later never breaks a response.

Errors use one problem-details shape (RFC 9457): `Problem`.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from postdesk_contracts import api_examples as ex

MAX_REPLY_CHARS = 200_000
MAX_REPLY_HTML_CHARS = 1_000_000
MAX_EXTRA_RECIPIENTS = 50
MAX_RECIPIENT_NAME_CHARS = 200
MAX_SUBJECT_CHARS = 500
MAX_ATTACHMENTS = 20
MAX_UPLOAD_ID_CHARS = 4096
UploadId = Annotated[str, Field(min_length=1, max_length=MAX_UPLOAD_ID_CHARS)]
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_ADDR_SPEC = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\.]+$")


class ApiModel(BaseModel):
    """Base of every API model: frozen, tolerant of fields added later."""

    model_config = ConfigDict(frozen=True, extra="ignore")


DATE_TIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def require_date_time_text(value: object) -> object:
    """`value` if it is a datetime or reads like an RFC 3339 date-time; a number, or text of
    one, is refused: pydantic and msgspec would take it for a Unix time, which the API does
    not document (and a typo would silently become some date in 1970)."""
    if isinstance(value, datetime) or (isinstance(value, str) and DATE_TIME_SHAPE.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with its offset, e.g. 2026-11-25T10:02:44Z")


# A date-time with its offset, given in a request as RFC 3339 text.
Timestamp = Annotated[AwareDatetime, BeforeValidator(require_date_time_text)]


class Problem(ApiModel):
    """Every error response: `application/problem+json`."""

    model_config = ex.example_config(
        {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"no ticket {ex.TICKET_ID} that you can see",
        }
    )

    type: str = Field(default="about:blank", description="URI identifying the problem type")
    title: str = Field(description="short summary of the problem type")
    status: int = Field(description="HTTP status code")
    detail: str = Field(default="", description="what went wrong with this request")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="per-field messages; only on request validation errors"
    )


class LoginRequest(ApiModel):
    """Credentials; never echoed back, not even in validation errors."""

    model_config = (
        ApiModel.model_config
        | {"hide_input_in_errors": True}
        | ex.example_config(
            {"email": "ana.lima@acme.example", "password": "correct horse battery staple"}
        )
    )

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(ApiModel):
    model_config = ex.example_config(
        {"access_token": ex.ACCESS_TOKEN, "token_type": "bearer", "expires_in": 900}
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  # the OAuth 2 token type, not a secret
    expires_in: int = Field(description="seconds until the access token expires")


class AccountAccess(ApiModel):
    """A mailbox the user can see, with the rights they hold on it.

    `role` is the user's assignment role (None for a tenant admin without an
    assignment); the rights are effective rights: a tenant admin holds all.
    """

    model_config = ex.example_config(
        {
            "account_id": ex.SUPPORT_ACCOUNT_ID,
            "address": "support@acme.example",
            "display_name": "Acme Support",
            "kind": "shared",
            "role": "primary",
            "can_send": True,
            "can_receive": True,
            "can_delete": True,
            "can_assign_others": False,
        }
    )

    account_id: uuid.UUID
    address: str
    display_name: str = ""
    kind: str
    role: str | None = None
    can_send: bool
    can_receive: bool
    can_delete: bool
    can_assign_others: bool


class Me(ApiModel):
    model_config = ex.example_config(
        {
            "id": ex.AGENT_ID,
            "email": "ana.lima@acme.example",
            "full_name": "Ana Lima",
            "role": "member",
            "tenant_id": ex.TENANT_ID,
            "department_id": ex.DEPARTMENT_ID,
            "accounts": [ex.example_of(AccountAccess)],
        }
    )

    id: uuid.UUID
    email: str
    full_name: str
    role: str = Field(description="tenant role: admin or member")
    tenant_id: uuid.UUID
    department_id: uuid.UUID | None = None
    accounts: list[AccountAccess] = Field(default_factory=list)


class EmailAddress(ApiModel):
    model_config = ex.example_config({"name": ex.CUSTOMER_NAME, "email": ex.CUSTOMER_EMAIL})

    name: str = ""
    email: str


class AttachmentInfo(ApiModel):
    """Attachment metadata; the content is fetched separately."""

    model_config = ex.example_config(
        {
            "id": ex.ATTACHMENT_ID,
            "filename": "invoice-2026-11.pdf",
            "content_type": "application/pdf",
            "size": 48213,
            "inline": False,
            "content_id": None,
        }
    )

    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    inline: bool = False
    content_id: str | None = None


class MessageView(ApiModel):
    model_config = (
        ApiModel.model_config
        | {"populate_by_name": True}
        | ex.example_config(
            {
                "id": ex.MESSAGE_ID,
                "direction": "inbound",
                "from": ex.example_of(EmailAddress),
                "to": [{"name": "Acme Support", "email": "support@acme.example"}],
                "cc": [],
                "subject": "Invoice 2026-11 charged twice",
                "text_body": "Hello, my card was charged twice for invoice 2026-11. "
                "Could you refund one of the charges? Jordan",
                "reply_text": "Hello, my card was charged twice for invoice 2026-11. "
                "Could you refund one of the charges?",
                "html_body": None,
                "match_rule": "new-ticket",
                "outbound_id": None,
                "delivery_status": "",
                "delivery_failure": "",
                "created_at": ex.CREATED_AT,
                "attachments": [ex.example_of(AttachmentInfo)],
            }
        )
    )

    id: uuid.UUID
    direction: str = Field(description="inbound or outbound")
    from_: EmailAddress | None = Field(default=None, alias="from")
    to: list[EmailAddress] = Field(default_factory=list)
    cc: list[EmailAddress] = Field(default_factory=list)
    subject: str = ""
    text_body: str = ""
    reply_text: str = Field(
        default="",
        description="what is new in this message: the text without the quoted earlier mail "
        "and the signature, as the parser found it (the whole text when there was nothing "
        "to cut); empty for our own replies and for mail stored before it was kept (show "
        "text_body then)",
    )
    html_body: str | None = None
    match_rule: str = Field(default="", description="why this message joined its ticket")
    outbound_id: uuid.UUID | None = Field(
        default=None, description="for a message we sent: its outbound.requested id"
    )
    delivery_status: str = Field(
        default="", description="for a message we sent: requested, failed or bounced"
    )
    delivery_failure: str = Field(default="", description="why delivery failed, if it did")
    send_at: datetime | None = Field(
        default=None,
        description="for a message we have not sent yet: when the outbound service sends it "
        "(a scheduled send, or the end of the undo window); null once it is on its way, sent, "
        "undone or failed, and for every other message",
    )
    created_at: datetime
    attachments: list[AttachmentInfo] = Field(default_factory=list)


class TicketSummary(ApiModel):
    model_config = ex.example_config(
        {
            "id": ex.TICKET_ID,
            "number": ex.TICKET_NUMBER,
            "subject": "Invoice 2026-11 charged twice",
            "status": "open",
            "priority": "high",
            "account_id": ex.SUPPORT_ACCOUNT_ID,
            "department_id": ex.DEPARTMENT_ID,
            "customer_email": ex.CUSTOMER_EMAIL,
            "customer_name": ex.CUSTOMER_NAME,
            "assignee_id": ex.AGENT_ID,
            "message_count": 2,
            "tags": ["billing", "refund"],
            "created_at": ex.CREATED_AT,
            "last_message_at": ex.REPLIED_AT,
        }
    )

    id: uuid.UUID
    number: int
    subject: str
    status: str
    priority: str
    account_id: uuid.UUID
    department_id: uuid.UUID | None = None
    customer_email: str
    customer_name: str = ""
    assignee_id: uuid.UUID | None = None
    message_count: int = 0
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    last_message_at: datetime


class SlaClockView(ApiModel):
    """One SLA target's clock on the ticket."""

    model_config = ex.example_config(
        {
            "target": "resolution",
            "state": "running",
            "due_at": "2026-11-25T08:15:02Z",
            "warn_at": "2026-11-25T03:27:02Z",
            "remaining_seconds": None,
            "warned_at": None,
            "breached_at": None,
            "stopped_at": None,
        }
    )

    target: str = Field(description="first_response or resolution")
    state: str = Field(description="running, paused (pending on the customer) or stopped")
    due_at: datetime
    warn_at: datetime
    remaining_seconds: float | None = Field(
        default=None, description="time left (business or calendar) while paused"
    )
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    stopped_at: datetime | None = None


class TicketDetail(TicketSummary):
    model_config = ex.example_config(
        ex.example_of(TicketSummary)
        | {
            "first_responded_at": ex.REPLIED_AT,
            "resolved_at": None,
            "closed_at": None,
            "assignment_rule": "primary",
            "linked_ticket_id": None,
            "merged_into_id": None,
            "reopened_count": 0,
            "response_minutes": 85,
            "resolution_minutes": None,
            "sla": [
                {
                    "target": "first_response",
                    "state": "stopped",
                    "due_at": "2026-11-24T12:15:02Z",
                    "warn_at": "2026-11-24T11:27:02Z",
                    "stopped_at": ex.REPLIED_AT,
                },
                ex.example_of(SlaClockView),
            ],
            "messages": [
                ex.example_of(MessageView),
                {
                    "id": ex.REPLY_MESSAGE_ID,
                    "direction": "outbound",
                    "from": {"name": "Acme Support", "email": "support@acme.example"},
                    "to": [ex.example_of(EmailAddress)],
                    "subject": "Re: [#1042] Invoice 2026-11 charged twice",
                    "text_body": "Hi Jordan, we refunded the second charge today. Ana",
                    "outbound_id": ex.OUTBOUND_ID,
                    "delivery_status": "requested",
                    "created_at": ex.REPLIED_AT,
                },
            ],
        }
    )

    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    assignment_rule: str = Field(default="", description="which rule chose the assignee")
    linked_ticket_id: uuid.UUID | None = Field(
        default=None, description="the ticket this one follows up or could not join"
    )
    merged_into_id: uuid.UUID | None = Field(
        default=None, description="set when this ticket was merged into another"
    )
    reopened_count: int = 0
    response_minutes: int | None = Field(default=None, description="minutes to first response")
    resolution_minutes: int | None = Field(default=None, description="minutes to resolution")
    sla: list[SlaClockView] = Field(
        default_factory=list, description="SLA clocks, if a policy applies"
    )
    messages: list[MessageView] = Field(default_factory=list, description="oldest first")


class TicketPage(ApiModel):
    model_config = ex.example_config(
        {"items": [ex.example_of(TicketSummary)], "next_cursor": ex.CURSOR}
    )

    items: list[TicketSummary]
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; None on the last page"
    )


class NotificationView(ApiModel):
    """Something to hear about. Events of one kind on one ticket close together fold into
    one notification: `event_count` says how many, `updated_at` when the last one came."""

    model_config = ex.example_config(
        {
            "id": "8f7e6d5c-4b3a-4291-8e0f-a1b2c3d4e5f6",
            "kind": "customer_reply",
            "ticket_id": ex.TICKET_ID,
            "title": f"New reply on #1042 from {ex.CUSTOMER_EMAIL}: Invoice 2026-11 charged twice",
            "body": f"From {ex.CUSTOMER_EMAIL}",
            "read_at": None,
            "created_at": "2026-11-25T10:02:44Z",
            "actor_id": None,
            "event_count": 1,
            "data": {
                "ticket_number": ex.TICKET_NUMBER,
                "message_id": "7f6e5d4c-3b2a-4918-8a7b-6c5d4e3f2a10",
            },
            "updated_at": "2026-11-25T10:02:44Z",
        }
    )

    id: uuid.UUID
    kind: str = Field(
        description="new_ticket, customer_reply, mention, assigned, sla_warning, sla_breached"
    )
    ticket_id: uuid.UUID | None = None
    title: str
    body: str = ""
    read_at: datetime | None = None
    created_at: datetime
    actor_id: uuid.UUID | None = Field(default=None, description="who caused it, if a person")
    event_count: int = Field(default=1, description="events folded into this notification")
    data: dict[str, Any] = Field(default_factory=dict, description="details by kind")
    updated_at: datetime | None = Field(default=None, description="when it last changed")


class NotificationList(ApiModel):
    model_config = ex.example_config(
        {"items": [ex.example_of(NotificationView)], "next_cursor": None}
    )

    items: list[NotificationView] = Field(description="latest change first")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; None on the last page"
    )


class NotificationUnreadCount(ApiModel):
    model_config = ex.example_config({"unread": 3})

    unread: int


class NotificationsReadRequest(ApiModel):
    """Mark your unread notifications read: all, or those that last changed at or before
    `before` (send the `updated_at` of the newest one you showed, so a later one stays
    unread)."""

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config({"before": "2026-11-25T10:02:44Z"})
    )

    before: Timestamp | None = None


class NotificationsReadResult(ApiModel):
    model_config = ex.example_config({"marked": 3})

    marked: int = Field(description="how many notifications this marked read")


class NotificationPreferences(ApiModel):
    """What you hear about, and where: every kind with its channels, as they apply to you
    (your choice, or the default where you made none)."""

    model_config = ex.example_config(
        {
            "preferences": {
                "new_ticket": {"in_app": True, "email": False},
                "customer_reply": {"in_app": True, "email": True},
                "mention": {"in_app": True, "email": True},
                "assigned": {"in_app": True, "email": True},
                "sla_warning": {"in_app": True, "email": False},
                "sla_breached": {"in_app": True, "email": True},
                "digest": {"in_app": False, "email": True},
            }
        }
    )

    preferences: dict[str, dict[str, bool]] = Field(
        description='{"<kind>": {"in_app": bool, "email": bool}}'
    )


class NotificationPreferencesUpdate(ApiModel):
    """Your choices, replacing the ones stored: `{"<kind>": {"in_app": bool, "email":
    bool}}`; a kind or channel left out takes its default. The digest is email only."""

    model_config = ex.example_config(
        {"preferences": {"customer_reply": {"email": False}, "digest": {"email": True}}}
    )

    preferences: dict[str, Any]


MAX_NOTE_CHARS = 20_000


class NoteRequest(ApiModel):
    """An internal note on a ticket, never sent to the customer. `@handle` mentions (a
    login's local part, `@ana`, or the whole login, `@ana@acme.example`) notify those users;
    a handle that names nobody is plain text."""

    model_config = ex.example_config(
        {"body": "@ben can you check the payment provider for the duplicate charge?"}
    )

    body: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a note must not be blank")
        return value


class NoteView(ApiModel):
    model_config = ex.example_config(
        {
            "id": "3e2d1c0b-9a8f-4e7d-a6c5-b4a3928170f6",
            "ticket_id": ex.TICKET_ID,
            "author_id": ex.AGENT_ID,
            "body": "@ben can you check the payment provider for the duplicate charge?",
            "mentioned_user_ids": [ex.COLLEAGUE_ID],
            "created_at": "2026-11-24T09:05:30Z",
        }
    )

    id: uuid.UUID
    ticket_id: uuid.UUID = Field(
        description="the ticket the note was written on: this one or one merged into it"
    )
    author_id: uuid.UUID
    body: str
    mentioned_user_ids: list[uuid.UUID] = Field(default_factory=list)
    created_at: datetime


class NoteList(ApiModel):
    model_config = ex.example_config({"items": [ex.example_of(NoteView)]})

    items: list[NoteView] = Field(description="oldest first")


MAX_DEPARTMENT_MANAGERS = 100


class DepartmentManagersUpdate(ApiModel):
    """The department's managers (they hear about its SLA warnings and breaches), replacing
    the current ones: active users of the tenant."""

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config({"user_ids": [ex.ADMIN_ID, ex.COLLEAGUE_ID]})
    )

    user_ids: list[uuid.UUID] = Field(max_length=MAX_DEPARTMENT_MANAGERS)


class DepartmentManagers(ApiModel):
    model_config = ex.example_config(
        {"department_id": ex.DEPARTMENT_ID, "user_ids": [ex.ADMIN_ID, ex.COLLEAGUE_ID]}
    )

    department_id: uuid.UUID
    user_ids: list[uuid.UUID]


class Recipient(ApiModel):
    """An address an agent adds to a mail (Cc, Bcc): one plain addr-spec, stored lower-cased.

    Control characters (line breaks among them) are refused in both fields:
    they could start a header of their own.
    """

    model_config = ex.example_config({"name": "Priya Nair", "email": "priya.nair@globex.example"})

    name: str = Field(default="", max_length=MAX_RECIPIENT_NAME_CHARS)
    email: str = Field(min_length=3, max_length=320)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("a name must not contain control characters")
        return value.strip()

    @field_validator("email")
    @classmethod
    def _one_address(cls, value: str) -> str:
        address = value.strip().lower()
        if _CONTROL.search(address) or not _ADDR_SPEC.match(address):
            raise ValueError("not an email address (local@domain, nothing else)")
        if not address.rpartition("@")[0].isascii():
            raise ValueError("a non-ASCII local part cannot be sent (no SMTPUTF8)")
        return address


class ReplyRequest(ApiModel):
    """A reply to the ticket's customer.

    `html` is optional (the text stays the plain-text alternative); it is
    sanitised before it is sent. `send_at` schedules the mail (in the future,
    at most 30 days ahead); without it the mail goes after the tenant's undo
    window. `from_account_id` sends it from another mailbox the user may send
    from (as for a new mail); without it the reply leaves from the ticket's
    mailbox. Send an `Idempotency-Key` header to make a retried request safe.
    """

    model_config = ex.example_config(
        {
            "text": "Hi Jordan,\n\nsorry about that: we refunded the second charge today. "
            "It shows on your statement within five days.\n\nAna",
            "html": "<p>Hi Jordan,</p><p>sorry about that: we refunded the second charge today. "
            "It shows on your statement within five days.</p><p>Ana</p>",
            "cc": [ex.example_of(Recipient)],
            "bcc": [],
            "attachments": [],
        }
    )

    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)
    html: str | None = Field(default=None, max_length=MAX_REPLY_HTML_CHARS)
    cc: list[Recipient] = Field(default_factory=list, max_length=MAX_EXTRA_RECIPIENTS)
    bcc: list[Recipient] = Field(default_factory=list, max_length=MAX_EXTRA_RECIPIENTS)
    send_at: Timestamp | None = Field(default=None, description="scheduled send time")
    attachments: list[UploadId] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="upload_ids from POST /uploads (yours, at most 24 hours old)",
    )
    from_account_id: uuid.UUID | None = Field(
        default=None,
        description="the mailbox the reply is sent from: an active one of yours with can_send "
        "(any of the tenant's for an admin); null: the ticket's mailbox",
    )


class ReplyAccepted(ApiModel):
    model_config = ex.example_config(
        {
            "outbound_id": ex.OUTBOUND_ID,
            "send_at": "2026-11-24T09:40:41Z",
            "undo_url": f"/outbound/{ex.OUTBOUND_ID}/cancel",
        }
    )

    outbound_id: uuid.UUID = Field(description="follow the reply through mail.sent / mail.failed")
    send_at: datetime | None = Field(
        default=None, description="when the mail goes out: it can be undone until then"
    )
    undo_url: str | None = Field(default=None, description="POST here to undo it before send_at")


class ComposeRequest(ApiModel):
    """A new mail from a mailbox the user may send from (can_send); it opens a ticket.

    The ticket's customer is the first `to` recipient; the ticket starts
    pending (waiting on the customer) and assigned to the author. `html`,
    `send_at` and the `Idempotency-Key` header work as for a reply.
    """

    model_config = ex.example_config(
        {
            "account_id": ex.SUPPORT_ACCOUNT_ID,
            "to": [ex.example_of(EmailAddress)],
            "cc": [],
            "bcc": [],
            "subject": "Your refund for invoice 2026-11",
            "text": "Hi Jordan,\n\nwe refunded the duplicate charge on invoice 2026-11.\n\nAna",
            "attachments": [],
        }
    )

    account_id: uuid.UUID = Field(description="the mailbox the mail is sent from")
    to: list[Recipient] = Field(min_length=1, max_length=MAX_EXTRA_RECIPIENTS)
    cc: list[Recipient] = Field(default_factory=list, max_length=MAX_EXTRA_RECIPIENTS)
    bcc: list[Recipient] = Field(default_factory=list, max_length=MAX_EXTRA_RECIPIENTS)
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_CHARS)
    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)
    html: str | None = Field(default=None, max_length=MAX_REPLY_HTML_CHARS)
    send_at: Timestamp | None = Field(default=None, description="scheduled send time")
    attachments: list[UploadId] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="upload_ids from POST /uploads (yours, at most 24 hours old)",
    )

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("a subject must not contain control characters")
        if not value.strip():
            raise ValueError("a subject must not be blank")
        return value.strip()


class ComposeAccepted(ReplyAccepted):
    """The ticket the mail opened (there at once) and the queued mail."""

    model_config = ex.example_config(
        ex.example_of(ReplyAccepted) | {"ticket_id": ex.OTHER_TICKET_ID, "number": 1043}
    )

    ticket_id: uuid.UUID
    number: int = Field(description="the ticket's number, the [#n] of its subject tag")


TicketStatusValue = Literal["open", "pending", "resolved", "closed"]
TicketPriorityValue = Literal["low", "normal", "high", "urgent"]


class TicketUpdate(ApiModel):
    """An agent's change to a ticket; omitted fields stay as they are.

    Unknown fields are refused rather than ignored: a client must not believe
    a change it sent was applied.
    """

    model_config = (
        ApiModel.model_config
        | {"extra": "forbid"}
        | ex.example_config({"status": "pending", "priority": "high"})
    )

    status: TicketStatusValue | None = None
    priority: TicketPriorityValue | None = None


class TicketFieldChange(ApiModel):
    model_config = ex.example_config({"field": "status", "old": "open", "new": "pending"})

    field: str
    old: str | None = None
    new: str | None = None


class TicketUpdateResult(ApiModel):
    model_config = ex.example_config(
        {
            "ticket": ex.example_of(TicketSummary) | {"status": "pending"},
            "changes": [ex.example_of(TicketFieldChange)],
        }
    )

    ticket: TicketSummary = Field(description="the ticket after the change")
    changes: list[TicketFieldChange] = Field(
        default_factory=list, description="what changed; empty when nothing did"
    )


class TicketHistoryEntry(ApiModel):
    """One decision or action on a ticket: which rule matched a message (or why none
    did), which rule assigned it, reopenings, automatic mail, SLA, agent changes."""

    model_config = ex.example_config(
        {
            "id": "b7a69584-7362-4514-8e0f-1a2b3c4d5e6f",
            "ticket_id": ex.TICKET_ID,
            "kind": "assigned",
            "rule": "primary",
            "detail": "the primary of support@acme.example",
            "message_id": ex.MESSAGE_ID,
            "actor_user_id": None,
            "event_id": ex.EVENT_ID,
            "created_at": "2026-11-24T08:15:03Z",
        }
    )

    id: uuid.UUID
    ticket_id: uuid.UUID = Field(
        description="the ticket the entry was recorded on: this one or one merged into it"
    )
    kind: str = Field(description="matched, assigned, reopened, auto_reply, sla, status, ...")
    rule: str = ""
    detail: str = ""
    message_id: uuid.UUID | None = Field(default=None, description="the message it is about")
    actor_user_id: uuid.UUID | None = Field(
        default=None, description="the user who acted; None when a rule did"
    )
    event_id: uuid.UUID | None = Field(default=None, description="the event it emitted")
    created_at: datetime


class TicketHistoryList(ApiModel):
    model_config = ex.example_config(
        {
            "items": [
                {
                    "id": "a6958473-6251-4403-9d8c-7b6a5f4e3d2c",
                    "ticket_id": ex.TICKET_ID,
                    "kind": "matched",
                    "rule": "new-ticket",
                    "detail": "no earlier ticket matched",
                    "message_id": ex.MESSAGE_ID,
                    "created_at": ex.CREATED_AT,
                },
                ex.example_of(TicketHistoryEntry),
            ]
        }
    )

    items: list[TicketHistoryEntry] = Field(description="oldest first")


class OutboundCancelResult(ApiModel):
    """An outbound mail undone before it was sent."""

    model_config = ex.example_config({"outbound_id": ex.OUTBOUND_ID, "status": "cancelled"})

    outbound_id: uuid.UUID
    status: Literal["cancelled"] = "cancelled"


class SmtpTestRequest(ApiModel):
    """Which SMTP settings to test: those `account_id`'s mail goes through (its override,
    else the tenant default), or the tenant default when it is left out."""

    model_config = ex.example_config({"account_id": ex.SUPPORT_ACCOUNT_ID})

    account_id: uuid.UUID | None = None


class SmtpTestResult(ApiModel):
    """A connection test: connect, TLS, login, MAIL FROM, RSET, QUIT.

    `stage` is where it stopped (dns, connect, tls, auth, mail; done when it
    worked; settings when the stored settings cannot be used) and `reason`
    says why, in words for an admin (with the server's reply when it sent one).
    """

    model_config = ex.example_config(
        {
            "ok": True,
            "stage": "done",
            "reason": "the server accepted the login and the sender",
            "outcome": "sent",
            "server": "smtp.acme.example:587 (starttls)",
            "sender": "support@acme.example",
        }
    )

    ok: bool
    stage: str
    reason: str
    outcome: Literal["sent", "temporary", "permanent"] = Field(
        default="sent", description="how a mail would fare: sent, temporary or permanent failure"
    )
    server: str = Field(default="", description="host:port (security) that was tested")
    sender: str = Field(default="", description="the MAIL FROM address used")


class UploadResult(ApiModel):
    """A file stored for a later reply or new mail: name it in `attachments` by `upload_id`.

    `upload_id` is an opaque sealed token, valid for 24 hours and only for
    the user who uploaded it.
    """

    model_config = ex.example_config(
        {
            "upload_id": "v1.gAAAAABnRkX2c2VhbGVkLXVwbG9hZC10b2tlbg",
            "filename": "refund-confirmation.pdf",
            "content_type": "application/pdf",
            "size": 48213,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        }
    )

    upload_id: str
    filename: str = Field(description="the sanitised file name the mail will carry")
    content_type: str
    size: int = Field(description="bytes")
    sha256: str = Field(description="hex digest of the content")


__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_DEPARTMENT_MANAGERS",
    "MAX_EXTRA_RECIPIENTS",
    "MAX_NOTE_CHARS",
    "MAX_RECIPIENT_NAME_CHARS",
    "MAX_REPLY_CHARS",
    "MAX_REPLY_HTML_CHARS",
    "MAX_SUBJECT_CHARS",
    "AccountAccess",
    "AttachmentInfo",
    "ComposeAccepted",
    "ComposeRequest",
    "DepartmentManagers",
    "DepartmentManagersUpdate",
    "EmailAddress",
    "LoginRequest",
    "Me",
    "MessageView",
    "NoteList",
    "NoteRequest",
    "NoteView",
    "NotificationList",
    "NotificationPreferences",
    "NotificationPreferencesUpdate",
    "NotificationUnreadCount",
    "NotificationView",
    "NotificationsReadRequest",
    "NotificationsReadResult",
    "OutboundCancelResult",
    "Problem",
    "Recipient",
    "ReplyAccepted",
    "ReplyRequest",
    "SmtpTestRequest",
    "SmtpTestResult",
    "TicketDetail",
    "TicketFieldChange",
    "TicketHistoryEntry",
    "TicketHistoryList",
    "TicketPage",
    "TicketPriorityValue",
    "TicketStatusValue",
    "TicketSummary",
    "TicketUpdate",
    "TicketUpdateResult",
    "TokenResponse",
    "UploadResult",
]
