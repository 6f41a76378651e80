"""What a bounce says failed: RFC 3464 delivery status notifications, and the common non-standard ones.

`read_bounce(parts, text, sender)` looks at the parts the MIME walk kept as
attachments (content type and decoded bytes):
- message/delivery-status (RFC 3464): per-recipient blocks; a recipient
  failed when its Action is "failed" (or, with no Action, its Status is
  5.x.x). failed_recipients come from Final-Recipient, else
  Original-Recipient, without the address-type prefix ("rfc822;"). status
  is the first failed recipient's Status (else the first Status seen),
  reason its Diagnostic-Code without the type prefix ("smtp;").
- the returned message: message/rfc822 (the whole original) or
  text/rfc822-headers (its header block); its Message-ID, without <>,
  becomes original_message_id.
- no DSN part (MAILER-DAEMON/postmaster mail written for humans, as qmail,
  old Exim and several hosted services send): when the text reads like a
  delivery failure, the addresses in the failure notice (before the
  returned message starts), an enhanced status code found in it, the SMTP
  reply line as the reason, and a Message-ID quoted from the returned part.
Returns None when nothing reads like a delivery report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from postdesk_contracts.events import BounceReport

MAX_REASON_CHARS = 500
MAX_RECIPIENTS = 100
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_EMAIL = re.compile(r"<?([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>?")
_MESSAGE_ID = re.compile(r"^message-id:[ \t]*(.*(?:\r?\n[ \t]+.*)*)", re.IGNORECASE | re.MULTILINE)
_BRACKETED = re.compile(r"<([^<>\s]+)>")
# "550 5.1.1 ..." alone on a line, or after "Remote host said:" / "host x said:"
_SMTP_REPLY = re.compile(r"^\s*(?:.{0,60}?\bsaid:\s*)?([45]\d\d[ -].+)$", re.IGNORECASE)
_FAILURE_TEXT = re.compile(
    r"delivery to the following recipients? (?:failed|has failed)"
    r"|could not be delivered|couldn't be delivered|undeliverable|undelivered mail"
    r"|mail delivery (?:failed|failure|subsystem)|delivery status notification \(failure\)"
    r"|permanent (?:fatal )?error|user unknown|no such user|mailbox unavailable"
    r"|address rejected|message not delivered|returned mail|failure notice"
    r"|i'm sorry to have to inform you|delivery has failed",
    re.IGNORECASE,
)
# Where a human-readable notice stops and the returned message starts.
_RETURNED_START = re.compile(
    r"^(?:-+ ?(?:original message|this is a copy of the message|below this line is a copy"
    r"|the header of the original message)|original message follows|-+ ?original message ?-+"
    r"|received: )",
    re.IGNORECASE | re.MULTILINE,
)
_DAEMON_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon"})


class BouncePart(Protocol):
    """A part the MIME walk kept: its content type and decoded bytes."""

    @property
    def content_type(self) -> str: ...

    @property
    def data(self) -> bytes: ...


def read_bounce(parts: Sequence[BouncePart], text: str | None, sender: str) -> BounceReport | None:
    """The delivery report in this message, or None if it is not one."""
    status_parts = [p for p in parts if p.content_type == "message/delivery-status"]
    original_id = _original_message_id(parts)
    if status_parts:
        report = _from_delivery_status(_decode(status_parts[0].data))
        return report.model_copy(update={"original_message_id": original_id})
    if (
        sender.split("@", 1)[0].lower() in _DAEMON_LOCALPARTS
        and text
        and _FAILURE_TEXT.search(text)
    ):
        return _from_text(text, sender, original_id)
    return None


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _fields_blocks(text: str) -> list[dict[str, str]]:
    """RFC 822-style field blocks separated by blank lines; continuation lines unfolded."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
        elif line[0] in " \t" and last is not None:
            current[last] += " " + line.strip()
        elif match := _FIELD.match(line):
            last = match.group(1).lower()
            current.setdefault(last, match.group(2).strip())
    if current:
        blocks.append(current)
    return blocks


def _typed_value(value: str) -> str:
    """`rfc822; a@b` -> `a@b`; `smtp; 550 ...` -> `550 ...`."""
    head, sep, rest = value.partition(";")
    return rest.strip() if sep and " " not in head.strip() else value.strip()


def _from_delivery_status(text: str) -> BounceReport:
    blocks = _fields_blocks(text)
    recipients = [
        b for b in blocks if "final-recipient" in b or "original-recipient" in b or "action" in b
    ]
    failed = [b for b in recipients if _failed(b)]
    chosen = failed[0] if failed else (recipients[0] if recipients else {})
    addresses: list[str] = []
    for block in failed:
        raw = block.get("final-recipient") or block.get("original-recipient") or ""
        address = _typed_value(raw).strip("<> ").lower()
        if address and address not in addresses:
            addresses.append(address)
    status_match = _STATUS.search(chosen.get("status", ""))
    return BounceReport(
        failed_recipients=addresses[:MAX_RECIPIENTS],
        status=status_match.group(1) if status_match else chosen.get("status", "")[:32],
        reason=_typed_value(chosen.get("diagnostic-code", ""))[:MAX_REASON_CHARS],
    )


def _failed(block: dict[str, str]) -> bool:
    action = block.get("action", "").strip().lower()
    if action:
        return action == "failed"
    return block.get("status", "").strip().startswith("5")


def _original_message_id(parts: Sequence[BouncePart]) -> str | None:
    for part in parts:
        if part.content_type in {"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"}:
            found = _message_id_in(_decode(part.data))
            if found:
                return found
    return None


def _message_id_in(text: str) -> str | None:
    header_block = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    match = _MESSAGE_ID.search(header_block) or _MESSAGE_ID.search(text)
    if match is None:
        return None
    value = match.group(1)
    bracketed = _BRACKETED.search(value)
    return bracketed.group(1) if bracketed else (value.strip() or None)


def _from_text(text: str, sender: str, original_id: str | None) -> BounceReport:
    start = _RETURNED_START.search(text)
    notice = text[: start.start()] if start else text
    returned = text[start.start() :] if start else ""
    addresses: list[str] = []
    for match in _EMAIL.finditer(notice):
        address = match.group(1).lower().rstrip(".")
        if address == sender.lower() or address.split("@", 1)[0] in _DAEMON_LOCALPARTS:
            continue
        if address not in addresses:
            addresses.append(address)
    status = _STATUS.search(notice)
    reason = next(
        (m.group(1).strip() for line in notice.splitlines() if (m := _SMTP_REPLY.match(line))),
        "",
    )
    if not reason:
        failure = _FAILURE_TEXT.search(notice)
        reason = _line_around(notice, failure.start()) if failure else ""
    return BounceReport(
        failed_recipients=addresses[:MAX_RECIPIENTS],
        status=status.group(1) if status else "",
        reason=reason[:MAX_REASON_CHARS],
        original_message_id=original_id or (_message_id_in(returned) if returned else None),
    )


def _line_around(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start : end if end != -1 else len(text)].strip()
