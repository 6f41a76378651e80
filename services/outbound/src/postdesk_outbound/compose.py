"""An outbound request as an RFC 5322 message, ready for SMTP. No I/O.

`compose` writes From, To, Cc, Reply-To, Subject, Date, Message-ID,
In-Reply-To, References, Thread-Topic, Thread-Index, the automatic-mail
fields and the body, with the SMTP policy (CRLF line ends, folded headers,
RFC 2047 encoded words where needed), 7-bit clean. `render` (render.py)
loads what it needs from the database and the blob store.

Body structure:
- text only: one text/plain part (no HTML is invented: plain text reads
  well everywhere and carries nothing to sanitise);
- with HTML: multipart/alternative of text/plain and the sanitised
  text/html (an empty text gets one rendered from the HTML); inline images
  the HTML refers to by Content-ID go into multipart/related with it;
- with attachments: all of that in multipart/mixed, one part each, the
  filename RFC 2231-encoded when it is not plain ASCII.

Invariants:
- No header value reaches the message with a control character in it: any
  C0 control but TAB, DEL, C1 controls (NEL among them) and the Unicode line
  and paragraph separators make the request raise ValueError (header
  injection). That holds for every source: subject, display names,
  addresses, Message-IDs, Auto-Submitted, attachment filenames, content
  types and Content-IDs. Values postdesk derives itself (Thread-Topic from
  the ticket's stored subject) have such characters replaced instead.
- An address the email package cannot read, a non-ASCII local part (no
  SMTPUTF8) or a Message-ID that is not one id raises ValueError; a
  non-ASCII domain is written in its IDNA (xn--) form.
- Bcc recipients are never written into the message; `envelope_recipients`
  gives the SMTP envelope (To, Cc and Bcc).
- Message-ID is the request's (postdesk signs it so answers thread), else
  `outbound_message_id(outbound_id, domain of From)` (the id the router
  stores for it), so a retried send has the same id.
- On a ticket (`conversation`), the subject carries the ticket tag `[#n]`
  once when the tenant asks for it, Thread-Topic is the ticket's subject
  without prefixes and tags, and Thread-Index (thread_index.py) shares its
  header block with every other mail of the ticket.
- Automatic mail (the request sets `auto_submitted`) carries
  `Auto-Submitted` (RFC 3834) and `X-Auto-Response-Suppress: All`, which
  Exchange and Outlook honour by sending no out-of-office or other
  automatic answer to it. No `Precedence` field: it is not standardised,
  RFC 3834 does not ask for it, and "bulk"/"junk" invites spam filters and
  list heuristics to treat a customer's acknowledgement as bulk mail.
- The signature (plain text) is added to both bodies unless the text ends
  with it already; `wants_signature` says which kinds of mail get one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import headerregistry
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from postdesk_contracts import Address, OutboundRequested
from postdesk_contracts.addressing import domain_of, outbound_message_id
from postdesk_contracts.subjects import conversation_topic, find_ticket_tag, format_ticket_tag

from postdesk_outbound import bodies
from postdesk_outbound.thread_index import thread_index

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_MESSAGE_ID = re.compile(r"^[^<>\s]+@[^<>\s]+$")
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_PATH_SEPARATORS = re.compile(r"[/\\]")
SUPPRESS_AUTO_RESPONSES = "All"
UNSIGNED_KINDS = frozenset({"auto_reply", "notification"})
DEFAULT_FILENAME = "attachment"
# 7-bit on the wire: a relay without 8BITMIME gets the same bytes; the email package picks the
# shorter of quoted-printable and base64 for non-ASCII text.
POLICY = SMTP.clone(cte_type="7bit")


@dataclass(frozen=True)
class Conversation:
    """What the threading headers need of the ticket a mail is sent on."""

    ticket_id: uuid.UUID
    number: int
    subject: str  # the ticket's, as stored
    started_at: datetime  # the ticket's creation: the time in the Thread-Index header block
    earlier_messages: int = 0  # our messages on the ticket before this one


@dataclass(frozen=True)
class AttachmentPart:
    """An attachment with its bytes (render reads them from the blob store)."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


def wants_signature(kind: str) -> bool:
    """Agents' mail is signed; auto-replies (the router adds the account's signature itself)
    and notifications are not."""
    return kind not in UNSIGNED_KINDS


def tagged_subject(subject: str, number: int) -> str:
    """`subject` with the ticket tag `[#number]` appended, unless it carries it already."""
    tag = format_ticket_tag(number)
    if tag in subject or find_ticket_tag(subject) == str(number):
        return subject
    return f"{subject} {tag}" if subject.strip() else tag


def compose(
    request: OutboundRequested,
    *,
    from_address: Address,
    date: datetime | None = None,
    conversation: Conversation | None = None,
    subject_tag: bool = False,
    signature: str = "",
    attachments: Sequence[AttachmentPart] = (),
) -> EmailMessage:
    """The message `request` asks to send from `from_address`; `date` defaults to now."""
    if not (request.to or request.cc or request.bcc):
        raise ValueError("an outbound mail needs at least one recipient")
    if date is not None and date.utcoffset() is None:
        raise ValueError("the Date of a mail needs a timezone")
    when = date or datetime.now(UTC)
    message = EmailMessage(policy=POLICY)
    message["From"] = _mailbox(from_address)
    if request.to:
        message["To"] = _mailboxes(request.to)
    if request.cc:
        message["Cc"] = _mailboxes(request.cc)
    if request.reply_to:
        message["Reply-To"] = _mailboxes(request.reply_to)
    _mailboxes(request.bcc)  # never written, but held to the same rules as the other recipients
    subject = _safe("Subject", request.subject)
    if conversation is not None and subject_tag:
        subject = tagged_subject(subject, conversation.number)
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    own_id = request.message_id or outbound_message_id(
        request.outbound_id, domain_of(from_address.email)
    )
    message["Message-ID"] = _message_ids("Message-ID", [own_id])
    if request.in_reply_to:
        message["In-Reply-To"] = _message_ids("In-Reply-To", [request.in_reply_to])
    if request.references:
        message["References"] = _message_ids("References", request.references)
    if conversation is not None:
        _thread_headers(message, request, conversation, when)
    if request.auto_submitted:
        message["Auto-Submitted"] = _safe("Auto-Submitted", request.auto_submitted)
        message["X-Auto-Response-Suppress"] = SUPPRESS_AUTO_RESPONSES
    _body(message, request, signature, attachments)
    return message


def envelope_recipients(request: OutboundRequested) -> list[str]:
    """Every address the mail is delivered to (To, Cc, Bcc), each once, in that order, as
    written on the wire (IDNA domains); ValueError for one that cannot be (RCPT TO injection)."""
    addresses = (*request.to, *request.cc, *request.bcc)
    return list(dict.fromkeys(_addr_spec(_safe("address", a.email)) for a in addresses))


def _thread_headers(
    message: EmailMessage,
    request: OutboundRequested,
    conversation: Conversation,
    when: datetime,
) -> None:
    topic = _CONTROL.sub(" ", conversation_topic(conversation.subject)).strip()
    if topic:
        message["Thread-Topic"] = topic
    replies = conversation.earlier_messages + (1 if request.in_reply_to else 0)
    # Raw: the email package would fold a long base64 value into encoded words.
    message.set_raw(
        "Thread-Index",
        thread_index(
            ticket_id=conversation.ticket_id,
            started_at=conversation.started_at,
            replies=replies,
            at=when,
            salt=request.outbound_id.bytes,
        ),
    )


def _body(
    message: EmailMessage,
    request: OutboundRequested,
    signature: str,
    attachments: Sequence[AttachmentPart],
) -> None:
    fragment = bodies.sanitize_html(request.html) if request.html else None
    text = request.text
    if fragment is not None and not text.strip():
        text = bodies.text_from_html(fragment)
    if wants_signature(request.kind) and not bodies.already_signed(text, signature):
        text = bodies.text_with_signature(text, signature)
        if fragment is not None:
            fragment = bodies.html_with_signature(fragment, signature)
    message.set_content(text, subtype="plain", charset="utf-8")
    related = [
        i for i, a in enumerate(attachments) if a.inline and a.content_id and fragment is not None
    ]
    if fragment is not None:
        message.add_alternative(bodies.html_document(fragment), subtype="html", charset="utf-8")
        html_part = list(message.iter_parts())[-1]
        for part in (attachments[i] for i in related):
            maintype, subtype = _mime_type(part.content_type)
            html_part.add_related(
                part.data,
                maintype,
                subtype,
                cid=_content_id(part.content_id or ""),
                filename=_filename(part.filename),
                disposition="inline",
            )
    for i, part in enumerate(attachments):
        if i in related:
            continue
        maintype, subtype = _mime_type(part.content_type)
        message.add_attachment(
            part.data,
            maintype,
            subtype,
            filename=_filename(part.filename),
            disposition="inline" if part.inline else "attachment",
            cid=_content_id(part.content_id) if part.content_id else None,
        )


def _safe(field: str, value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(
            f"{field} holds a control character (line break, NUL, ...): refusing a header injection"
        )
    return value


def _addr_spec(spec: str) -> str:
    """The address as it can go on a 7-bit wire: an ASCII local part, the domain in IDNA form."""
    local, at, domain = spec.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"unusable address {spec!r}: no local part and domain")
    if not local.isascii():
        raise ValueError(f"unusable address {spec!r}: a non-ASCII local part needs SMTPUTF8")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise ValueError(f"unusable address {spec!r}: {error}") from error
    return f"{local}@{domain}"


def _mailbox(address: Address) -> headerregistry.Address:
    name = _safe("display name", address.name)
    spec = _addr_spec(_safe("address", address.email))
    try:
        return headerregistry.Address(display_name=name, addr_spec=spec)
    except (ValueError, IndexError, TypeError, HeaderParseError) as error:
        raise ValueError(f"unusable address {spec!r}: {error}") from error


def _mailboxes(addresses: Iterable[Address]) -> tuple[headerregistry.Address, ...]:
    return tuple(_mailbox(a) for a in addresses)


def _message_ids(field: str, ids: Sequence[str]) -> str:
    for value in ids:
        if not _MESSAGE_ID.match(_safe(field, value)):
            raise ValueError(f"{field}: {value!r} is not a Message-ID (no angle brackets)")
    return " ".join(f"<{value}>" for value in ids)


def _filename(name: str) -> str:
    """The attachment's name without any directory part; control characters are refused."""
    base = _PATH_SEPARATORS.split(_safe("attachment filename", name))[-1].strip()
    return base or DEFAULT_FILENAME


def _mime_type(content_type: str) -> tuple[str, str]:
    """(maintype, subtype) of a declared type; parameters dropped, anything odd is
    application/octet-stream (the receiver then offers it for download only)."""
    essence = _safe("attachment content type", content_type).split(";", 1)[0].strip().lower()
    if not _MIME_TYPE.match(essence) or essence.startswith(("multipart/", "message/")):
        return "application", "octet-stream"
    maintype, subtype = essence.split("/", 1)
    return maintype, subtype


def _content_id(content_id: str) -> str:
    bare = _safe("Content-ID", content_id).strip().removeprefix("<").removesuffix(">")
    if not _MESSAGE_ID.match(bare):
        raise ValueError(f"Content-ID: {content_id!r} is not an id (local@domain)")
    return f"<{bare}>"
