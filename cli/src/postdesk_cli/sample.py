"""A sample customer email and the shell line that posts it, signed, to the ingest webhook."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path


def sample_email(to: str, *, sender: str = "Carol Customer <carol@customer.example>") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "My order #1042 has not arrived"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="customer.example")
    message.set_content(
        "Hello,\n\nI ordered a kettle two weeks ago (order #1042) and it has not arrived.\n"
        "Could you check where it is?\n\nThanks,\nCarol\n"
    )
    return bytes(message)


def curl_line(path: Path, webhook_url: str, secret: str, recipient: str) -> str:
    """A line for a POSIX shell: signs the file with openssl and posts it with curl."""
    file = shlex.quote(str(path))
    return (
        f"ts=$(date +%s); sig=$({{ printf '%s.' \"$ts\"; cat {file}; }} "
        f"| openssl dgst -sha256 -hmac {shlex.quote(secret)} -hex | sed 's/^.* //'); "
        f"curl -sS -X POST --data-binary @{file} -H 'Content-Type: message/rfc822' "
        f'-H "X-Postdesk-Timestamp: $ts" -H "X-Postdesk-Signature: sha256=$sig" '
        f"{shlex.quote(webhook_url + '?rcpt=' + recipient)}"
    )
