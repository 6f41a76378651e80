"""The parser's use case building MailParsed: fields derived in the service, not in parse_mail."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from postdesk_contracts.events import Channel, MailReceived
from postdesk_parser.domain import parse_mail
from postdesk_parser.service import mail_parsed_of
from postdesk_runtime import LocalBlobStore

# Thread-Index values as Outlook writes them: a 22-byte header block (6 bytes of FILETIME,
# then the conversation GUID), plus one 5-byte block per reply.
FIRST = "AdNZb8kOcSQ1jVuCTFKrfQM7HD2/tQ=="
REPLY = "AdNZb8kOcSQ1jVuCTFKrfQM7HD2/tQAAobLD"
ROOT = "7124358d5b824c52ab7d033b1c3dbfb5"  # 7124358d-5b82-4c52-ab7d-033b1c3dbfb5


def mail(thread_index: str | None) -> bytes:
    header = f"Thread-Index: {thread_index}\r\n".encode() if thread_index else b""
    return (
        b"From: Alice <alice@customer.example>\r\n"
        b"To: support@acme.example\r\n"
        b"Subject: RE: Order\r\n"
        b"Message-ID: <t-1@customer.example>\r\n" + header + b"\r\nhello\r\n"
    )


def received(raw: bytes) -> MailReceived:
    return MailReceived(
        raw_blob_ref="sha256:" + "0" * 64,
        sha256="0" * 64,
        size=len(raw),
        channel=Channel.WEBHOOK,
        envelope_recipients=["support@acme.example"],
        received_at=datetime.now(UTC),
    )


@pytest.mark.parametrize("thread_index", [FIRST, REPLY, f"{REPLY[:20]}\r\n {REPLY[20:]}"])
async def test_thread_root_is_the_conversation_guid(thread_index: str, tmp_path: Path) -> None:
    """A first message, a reply and a folded header of one Outlook conversation share thread_root."""
    raw = mail(thread_index)
    parsed = await mail_parsed_of(received(raw), parse_mail(raw), LocalBlobStore(tmp_path))
    assert parsed.thread_root == ROOT
    # thread_index is the header as it came (unfolded); the decoder ignores whitespace
    assert "".join((parsed.thread_index or "").split()) == "".join(thread_index.split())


@pytest.mark.parametrize("thread_index", [None, "not-a-thread-index", "c2hvcnQ="])
async def test_no_thread_root_without_a_valid_thread_index(
    thread_index: str | None, tmp_path: Path
) -> None:
    """No Thread-Index, or one that is not base64 of at least 22 bytes, gives thread_root None."""
    raw = mail(thread_index)
    parsed = await mail_parsed_of(received(raw), parse_mail(raw), LocalBlobStore(tmp_path))
    assert parsed.thread_root is None
