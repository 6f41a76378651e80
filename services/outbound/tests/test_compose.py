"""An outbound request as the RFC 5322 message it is sent as."""

from __future__ import annotations

import email
import uuid
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from postdesk_contracts import Address, OutboundRequested
from postdesk_outbound.compose import compose, envelope_recipients

FROM = Address(name="Acme Support", email="cs@acme.example")
DATE = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)


def request(**overrides: Any) -> OutboundRequested:
    fields: dict[str, Any] = {
        "outbound_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "account_id": uuid.uuid4(),
        "ticket_id": uuid.uuid4(),
        "kind": "auto_reply",
        "to": [Address(name="Carol Customer", email="carol@customer.example")],
        "subject": "Re: Printer on fire [#12]",
        "text": "We got your mail.\n\n-- \nAcme Support",
        "in_reply_to": "abc@customer.example",
        "references": ["root@customer.example", "abc@customer.example"],
        "message_id": "pd.token.1@acme.example",
        "reply_to": [Address(name="Acme Support", email="cs+token@acme.example")],
        "auto_submitted": "auto-replied",
    }
    fields.update(overrides)
    return OutboundRequested(**fields)


def sent(message: EmailMessage) -> EmailMessage:
    """The message as a receiver reads the bytes we would send: CRLF line ends, 7-bit."""
    raw = message.as_bytes()
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    raw.decode("ascii")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(message: EmailMessage) -> str:
    content = message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def test_every_header_of_an_auto_reply() -> None:
    """From, To, Subject, Date, Message-ID, threading, Reply-To and the RFC 3834 fields."""
    message = sent(compose(request(), from_address=FROM, date=DATE))

    assert message["From"] == "Acme Support <cs@acme.example>"
    assert message["To"] == "Carol Customer <carol@customer.example>"
    assert message["Cc"] is None
    assert message["Subject"] == "Re: Printer on fire [#12]"
    assert message["Date"] == "Tue, 05 Mar 2024 14:30:00 +0000"
    assert message["Message-ID"] == "<pd.token.1@acme.example>"
    assert message["In-Reply-To"] == "<abc@customer.example>"
    assert message["References"] == "<root@customer.example> <abc@customer.example>"
    assert message["Reply-To"] == "Acme Support <cs+token@acme.example>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Precedence"] is None
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert body(message) == "We got your mail.\n\n-- \nAcme Support\n"


def test_a_human_reply_has_no_automatic_fields() -> None:
    """Without auto_submitted the mail says nothing about being automatic."""
    message = sent(
        compose(request(kind="reply", auto_submitted=None), from_address=FROM, date=DATE)
    )
    assert message["Auto-Submitted"] is None
    assert message["X-Auto-Response-Suppress"] is None


def test_message_id_derives_from_outbound_id_when_the_request_has_none() -> None:
    """A retried send of one request carries the same Message-ID, the one the router stores."""
    message = sent(
        compose(
            request(message_id=None, in_reply_to=None, references=[]),
            from_address=FROM,
            date=DATE,
        )
    )
    assert message["Message-ID"] == "<12345678123456781234567812345678@acme.example>"
    assert message["In-Reply-To"] is None
    assert message["References"] is None


def test_cc_is_written_and_bcc_only_in_the_envelope() -> None:
    """Cc is a header; Bcc recipients get the mail but appear in no header."""
    cc = [Address(email="dan@customer.example")]
    bcc = [Address(email="audit@acme.example"), Address(email="carol@customer.example")]
    req = request(cc=cc, bcc=bcc)
    raw = compose(req, from_address=FROM, date=DATE).as_bytes()
    message = sent(compose(req, from_address=FROM, date=DATE))

    assert message["Cc"] == "dan@customer.example"
    assert b"audit@acme.example" not in raw
    assert envelope_recipients(req) == [
        "carol@customer.example",
        "dan@customer.example",
        "audit@acme.example",
    ]


def test_non_ascii_subject_names_and_body_survive() -> None:
    """Encoded words in headers, UTF-8 in the body: the receiver reads the same text."""
    req = request(
        subject="Re: Drucker brennt — 打印机 [#12]",
        to=[Address(name="Zoë Ünal", email="zoe@customer.example")],
        text="Grüße, 你好\n",
    )
    message = sent(compose(req, from_address=FROM, date=DATE))
    assert message["Subject"] == "Re: Drucker brennt — 打印机 [#12]"
    assert message["To"] == "Zoë Ünal <zoe@customer.example>"
    assert body(message) == "Grüße, 你好\n"


@pytest.mark.parametrize(
    "text",
    ["a" * 5000 + "\n", "打印机着火了。" * 400 + "\n", "Grüße\n" * 100, "line\n.\nFrom me\n"],
)
def test_any_body_arrives_unchanged_on_a_7bit_wire(text: str) -> None:
    """Long lines, CJK and Latin text all go out 7-bit clean and read back as written."""
    assert body(sent(compose(request(text=text), from_address=FROM, date=DATE))) == text


def test_date_defaults_to_now_and_keeps_its_offset() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = sent(compose(request(), from_address=FROM))
    assert before <= message["Date"].datetime <= datetime.now(UTC)
    offset = datetime(2024, 3, 5, 9, 0, tzinfo=timezone(timedelta(hours=7)))
    assert sent(compose(request(), from_address=FROM, date=offset))["Date"] == (
        "Tue, 05 Mar 2024 09:00:00 +0700"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Hello\r\nBcc: victim@example.com"},
        {"subject": "Hello\nX-Injected: yes"},
        {"subject": "Hello\rX-Injected: yes"},
        {"subject": "Hello\x00"},
        {"to": [Address(name="Carol\r\nBcc: victim@example.com", email="carol@customer.example")]},
        {"to": [Address(email="carol@customer.example\r\nBcc: victim@example.com")]},
        {"reply_to": [Address(name="x\ny", email="cs@acme.example")]},
        {"cc": [Address(name="x", email="dan@customer.example\n")]},
        {"in_reply_to": "abc@customer.example>\r\nX-Injected: yes"},
        {"references": ["a@b", "c@d\r\nX-Injected: yes"]},
        {"message_id": "pd.x@acme.example\nX-Injected: yes"},
        {"auto_submitted": "auto-replied\r\nX-Injected: yes"},
    ],
)
def test_line_breaks_in_any_header_value_are_refused(overrides: dict[str, Any]) -> None:
    """A CR, LF or NUL in a header value raises instead of starting a header of its own."""
    with pytest.raises(ValueError, match="line break"):
        compose(request(**overrides), from_address=FROM, date=DATE)


def test_line_breaks_in_the_from_address_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        compose(request(), from_address=Address(name="Acme\r\nBcc: x@y.z", email=FROM.email))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"to": [Address(email="not an address")]}, "unusable address"),
        ({"to": [Address(email="carol@")]}, "unusable address"),
        ({"in_reply_to": "<abc@customer.example>"}, "not a Message-ID"),
        ({"references": ["two ids@x"]}, "not a Message-ID"),
        ({"message_id": "no-at-sign"}, "not a Message-ID"),
        ({"to": [], "cc": [], "bcc": []}, "at least one recipient"),
    ],
)
def test_unusable_values_are_refused(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compose(request(**overrides), from_address=FROM, date=DATE)


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        compose(request(), from_address=FROM, date=datetime(2024, 3, 5, 14, 30))
