"""An outbound request as an RFC 5322 message, ready for SMTP. No I/O.

`compose` writes From, To, Cc, Subject, Date, Message-ID, In-Reply-To,
References, Reply-To and a text/plain UTF-8 body, with the SMTP policy
(CRLF line ends, folded headers, RFC 2047 encoded words where needed), 7-bit
clean.

Invariants:
- No header value reaches the message with a CR, LF or NUL in it: such a
  request raises ValueError (header injection), as does an address the
  email package cannot read or a Message-ID that is not one id.
- Bcc recipients are never written into the message; `envelope_recipients`
  gives the SMTP envelope (To, Cc and Bcc).
- Message-ID is the request's (postdesk signs it so answers thread), else
  `outbound_message_id(outbound_id, domain of From)` (the id the router
  stores for it), so a retried send has the same id.
- Automatic mail (the request sets `auto_submitted`) carries
  `Auto-Submitted` (RFC 3834) and `X-Auto-Response-Suppress: All`, which
  Exchange and Outlook honour by sending no out-of-office or other
  automatic answer to it. No `Precedence` field: it is not standardised,
  RFC 3834 does not ask for it, and "bulk"/"junk" invites spam filters and
  list heuristics to treat a customer's acknowledgement as bulk mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email import headerregistry
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from postdesk_contracts import Address, OutboundRequested
from postdesk_contracts.addressing import domain_of, outbound_message_id

_UNSAFE = re.compile(r"[\r\n\x00]")
_MESSAGE_ID = re.compile(r"^[^<>\s]+@[^<>\s]+$")
SUPPRESS_AUTO_RESPONSES = "All"
# 7-bit on the wire: a relay without 8BITMIME gets the same bytes; the email package picks the
# shorter of quoted-printable and base64 for non-ASCII text.
POLICY = SMTP.clone(cte_type="7bit")


def compose(
    request: OutboundRequested, *, from_address: Address, date: datetime | None = None
) -> EmailMessage:
    """The message `request` asks to send from `from_address`; `date` defaults to now."""
    if not (request.to or request.cc or request.bcc):
        raise ValueError("an outbound mail needs at least one recipient")
    if date is not None and date.utcoffset() is None:
        raise ValueError("the Date of a mail needs a timezone")
    message = EmailMessage(policy=POLICY)
    message["From"] = _mailbox(from_address)
    if request.to:
        message["To"] = _mailboxes(request.to)
    if request.cc:
        message["Cc"] = _mailboxes(request.cc)
    if request.reply_to:
        message["Reply-To"] = _mailboxes(request.reply_to)
    message["Subject"] = _safe("Subject", request.subject)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    own_id = request.message_id or outbound_message_id(
        request.outbound_id, domain_of(from_address.email)
    )
    message["Message-ID"] = _message_ids("Message-ID", [own_id])
    if request.in_reply_to:
        message["In-Reply-To"] = _message_ids("In-Reply-To", [request.in_reply_to])
    if request.references:
        message["References"] = _message_ids("References", request.references)
    if request.auto_submitted:
        message["Auto-Submitted"] = _safe("Auto-Submitted", request.auto_submitted)
        message["X-Auto-Response-Suppress"] = SUPPRESS_AUTO_RESPONSES
    message.set_content(request.text, subtype="plain", charset="utf-8")
    return message


def envelope_recipients(request: OutboundRequested) -> list[str]:
    """Every address the mail is delivered to (To, Cc, Bcc), each once, in that order."""
    return list(dict.fromkeys(a.email for a in (*request.to, *request.cc, *request.bcc)))


def _safe(field: str, value: str) -> str:
    if _UNSAFE.search(value):
        raise ValueError(f"{field} holds a line break or NUL: refusing a header injection")
    return value


def _mailbox(address: Address) -> headerregistry.Address:
    name = _safe("display name", address.name)
    spec = _safe("address", address.email).strip()
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
