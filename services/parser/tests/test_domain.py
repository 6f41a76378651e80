"""The parser's pure rules on realistic messages, written out byte for byte."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from postdesk_contracts.events import MailKind
from postdesk_parser.domain import ParsedMail, UnparseableMailError, html_to_text, parse_mail

CORPUS_GENERATOR = Path("/work/shared/bench-corpus/gen_corpus.py")


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


PLAIN = crlf("""\
Return-Path: <alice@customer.example>
Delivered-To: Support@Acme.example
From: "Alice Example" <Alice@Customer.Example>
To: ACME Support <Support@ACME.example>, bob@acme.example
Cc: carol@customer.example
Reply-To: alice.replies@customer.example
Subject: Order 1234 is late
Date: Mon, 04 Mar 2024 09:40:44 +0200
Message-ID: <CAF1234.5678@mail.customer.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

Hello,

my order 1234 has not arrived yet.

Alice
""")

ALTERNATIVE = crlf("""\
From: bob@customer.example
To: support@acme.example
Subject: Invoice question
Message-ID: <alt-1@customer.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe, the invoice is wrong.
--b1
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: base64

PHA+R3LDvMOfZSwgdGhlIGludm9pY2UgaXMgPGI+d3Jvbmc8L2I+LjwvcD4=
--b1--
""")

HTML_ONLY = crlf("""\
From: news@customer.example
To: support@acme.example
Subject: HTML only
Message-ID: <html-1@customer.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><title>t</title><style>p {color: red}</style></head>
<body><p>First&nbsp;paragraph &amp; more.</p><p>Second<br>line</p><script>alert(1)</script></body></html>
""")

SUBJECT_LATIN1 = crlf("""\
From: =?ISO-8859-1?Q?Andr=E9_M=FCller?= <andre@customer.example>
To: support@acme.example
Subject: =?ISO-8859-1?Q?R=FCckerstattung_f=FCr_Bestellung?=
Message-ID: <latin1@customer.example>

Body.
""")

SUBJECT_UTF8 = crlf("""\
From: yuki@customer.example
To: support@acme.example
Subject: =?UTF-8?B?5rOo5paH44GM5bGK44GN44G+44Gb44KT?= =?UTF-8?Q?_=E2=9C=93?=
Message-ID: <utf8@customer.example>

Body.
""")

ATTACHMENT = crlf("""\
From: dave@customer.example
To: support@acme.example
Subject: Contract attached
Message-ID: <att-1@customer.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8

Please see the attached contract.
--outer
Content-Type: application/pdf; name="contract.pdf"
Content-Disposition: attachment;
 filename*=UTF-8''Vertr%C3%A4ge%20%C3%BCbersicht.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCg==
--outer
Content-Type: image/png
Content-Disposition: inline
Content-ID: <logo@customer.example>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--outer
Content-Type: text/plain; name="../../etc/passwd"
Content-Disposition: attachment; filename="../../etc/passwd"

not really
--outer--
""")

REPLY = crlf("""\
From: alice@customer.example
To: support@acme.example
Subject: Re: [#12] Order 1234 is late
Message-ID: <reply-2@customer.example>
In-Reply-To: <ticket-12-msg-1@acme.example>
References: <root-1@customer.example>
 <ticket-12-msg-1@acme.example>
Date: Tue, 5 Mar 2024 10:00:00 +0000

Thanks!

> Your order ships today.
""")

AUTO_REPLY = crlf("""\
From: alice@customer.example
To: support@acme.example
Subject: Out of office: Re: Order 1234
Auto-Submitted: auto-replied
Message-ID: <ooo-1@customer.example>

I am out of the office until Monday.
""")

BOUNCE = crlf("""\
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>
To: support@acme.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-1@mx.acme.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="rep"

--rep
Content-Type: text/plain; charset=us-ascii

This is the mail system. Your message could not be delivered.
--rep
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.example

Final-Recipient: rfc822; nobody@customer.example
Action: failed
Status: 5.1.1
--rep
Content-Type: message/rfc822

From: support@acme.example
To: nobody@customer.example
Subject: Your ticket
Message-ID: <orig-1@acme.example>

Original text.
--rep--
""")

LIST_MAIL = crlf("""\
From: list@lists.example
To: support@acme.example
Subject: Weekly digest
List-Id: <weekly.lists.example>
Precedence: bulk
Message-ID: <list-1@lists.example>

Digest.
""")

NO_MESSAGE_ID = crlf("""\
From: eve@customer.example
To: support@acme.example
Subject: no id

Body without an id.
""")

GARBAGE = bytes(range(256)) * 4


class TestAddressesAndHeaders:
    def test_x_original_to_counts_as_a_delivery_address(self) -> None:
        """Postfix's X-Original-To (the address before aliasing) follows Delivered-To."""
        raw = (
            b"From: a@customer.example\r\nTo: team@lists.example\r\n"
            b"Delivered-To: mbox@acme.example\r\nX-Original-To: CS+orders@Acme.example\r\n"
            b"X-Original-To: mbox@acme.example\r\nSubject: hi\r\n\r\nbody\r\n"
        )
        assert parse_mail(raw).delivered_to == ["mbox@acme.example", "cs+orders@acme.example"]

    def test_plain_message(self) -> None:
        """Addresses are lower-cased with display names kept, and threading keys lose their brackets."""
        parsed = parse_mail(PLAIN)
        assert parsed.from_.email == "alice@customer.example"
        assert parsed.from_.name == "Alice Example"
        assert [a.email for a in parsed.to] == ["support@acme.example", "bob@acme.example"]
        assert parsed.to[0].name == "ACME Support"
        assert [a.email for a in parsed.cc] == ["carol@customer.example"]
        assert [a.email for a in parsed.reply_to] == ["alice.replies@customer.example"]
        assert parsed.delivered_to == ["support@acme.example"]
        assert parsed.subject == "Order 1234 is late"
        assert parsed.message_id == "CAF1234.5678@mail.customer.example"
        assert not parsed.message_id_synthesised
        assert parsed.date == datetime(2024, 3, 4, 9, 40, 44, tzinfo=timezone(timedelta(hours=2)))
        assert parsed.text is not None
        assert "my order 1234 has not arrived yet." in parsed.text
        assert parsed.html is None
        assert parsed.attachments == []
        assert parsed.classification.kind == MailKind.HUMAN
        assert parsed.sha256 == hashlib.sha256(PLAIN).hexdigest()

    def test_subject_rfc2047_latin1(self) -> None:
        """Encoded words in ISO-8859-1 are decoded in the subject and the display name."""
        parsed = parse_mail(SUBJECT_LATIN1)
        assert parsed.subject == "Rückerstattung für Bestellung"
        assert parsed.from_.name == "André Müller"

    def test_subject_rfc2047_utf8(self) -> None:
        """Base64 and Q encoded UTF-8 words are decoded and joined."""
        assert parse_mail(SUBJECT_UTF8).subject == "注文が届きません ✓"

    def test_reply_threading_keys(self) -> None:
        """In-Reply-To and a folded References header give bare ids in order."""
        parsed = parse_mail(REPLY)
        assert parsed.in_reply_to == ["ticket-12-msg-1@acme.example"]
        assert parsed.references == ["root-1@customer.example", "ticket-12-msg-1@acme.example"]
        assert parsed.date == datetime(2024, 3, 5, 10, 0, tzinfo=UTC)

    def test_missing_message_id_is_synthesised(self) -> None:
        """Without Message-ID the id is <sha256>@postdesk.invalid and flagged as synthesised."""
        parsed = parse_mail(NO_MESSAGE_ID)
        assert parsed.message_id == hashlib.sha256(NO_MESSAGE_ID).hexdigest() + "@postdesk.invalid"
        assert parsed.message_id_synthesised
        assert parsed.date is None

    def test_undecodable_date_is_none(self) -> None:
        """A Date header that is not a date gives no date rather than a failure."""
        assert (
            parse_mail(NO_MESSAGE_ID.replace(b"Subject:", b"Date: someday\r\nSubject:")).date
            is None
        )


class TestBodies:
    def test_alternative_gives_text_and_html(self) -> None:
        """multipart/alternative yields both bodies, each decoded from its own charset and encoding."""
        parsed = parse_mail(ALTERNATIVE)
        assert parsed.text == "Grüße, the invoice is wrong."
        assert parsed.html == "<p>Grüße, the invoice is <b>wrong</b>.</p>"
        assert parsed.attachments == []

    def test_html_only_derives_text(self) -> None:
        """With only HTML, the text body is derived from it, without scripts, styles or tags."""
        parsed = parse_mail(HTML_ONLY)
        assert parsed.html is not None
        assert "<script>" not in parsed.html  # stored sanitised (sanitize.py)
        assert parsed.text == "First paragraph & more.\n\nSecond\nline"
        assert parsed.text_preview == "First paragraph & more. Second line"

    def test_attachments(self) -> None:
        """Attachments keep RFC 2231 names, inline parts their Content-ID, and paths are stripped."""
        parsed = parse_mail(ATTACHMENT)
        assert parsed.text == "Please see the attached contract."
        names = [(a.filename, a.content_type, a.inline, a.content_id) for a in parsed.attachments]
        assert names == [
            ("Verträge übersicht.pdf", "application/pdf", False, None),
            ("part-2.png", "image/png", True, "logo@customer.example"),
            ("passwd", "text/plain", False, None),
        ]
        assert parsed.attachments[0].data.startswith(b"%PDF-1.4")
        assert parsed.attachments[1].data == b"\x89PNG\r\n\x1a\n"

    def test_preview_is_capped(self) -> None:
        """The preview never exceeds 500 characters."""
        long_mail = NO_MESSAGE_ID + b"word " * 1000
        assert len(parse_mail(long_mail).text_preview) == 500

    def test_html_to_text_keeps_blocks_apart(self) -> None:
        """Block elements become line breaks, entities are unescaped."""
        assert html_to_text("<div>a</div><div>b &lt;c&gt;</div>") == "a\n\nb <c>"


class TestClassification:
    def test_auto_reply(self) -> None:
        """Auto-Submitted other than "no" marks an auto-reply."""
        parsed = parse_mail(AUTO_REPLY)
        assert parsed.classification.kind == MailKind.AUTO_REPLY
        assert parsed.classification.auto_submitted == "auto-replied"

    def test_auto_submitted_no_is_human(self) -> None:
        """Auto-Submitted: no is an explicit human message."""
        mail = AUTO_REPLY.replace(b"auto-replied", b"no")
        assert parse_mail(mail).classification.kind == MailKind.HUMAN

    def test_bounce(self) -> None:
        """A delivery-status report from MAILER-DAEMON is a bounce; its parts are kept as attachments."""
        parsed = parse_mail(BOUNCE)
        assert parsed.classification.kind == MailKind.BOUNCE
        assert "null return-path" in parsed.classification.reasons
        assert parsed.text is not None
        assert parsed.text.startswith("This is the mail system.")
        kinds = [a.content_type for a in parsed.attachments]
        assert kinds == ["message/delivery-status", "message/rfc822"]
        assert b"Status: 5.1.1" in parsed.attachments[0].data
        assert b"Message-ID: <orig-1@acme.example>" in parsed.attachments[1].data
        assert parsed.attachments[1].filename == "part-2.eml"

    def test_list_mail(self) -> None:
        """List-Id or Precedence: bulk marks list mail."""
        parsed = parse_mail(LIST_MAIL)
        assert parsed.classification.kind == MailKind.LIST
        assert "precedence: bulk" in parsed.classification.reasons


class TestMalformed:
    def test_garbage_is_unparseable(self) -> None:
        """Random bytes are refused with a reason, not a crash."""
        with pytest.raises(UnparseableMailError, match="header"):
            parse_mail(GARBAGE)

    def test_empty_is_unparseable(self) -> None:
        """An empty body is refused."""
        with pytest.raises(UnparseableMailError):
            parse_mail(b"")

    def test_no_from_is_unparseable(self) -> None:
        """A message without a usable sender cannot become a ticket."""
        with pytest.raises(UnparseableMailError, match="From"):
            parse_mail(crlf("To: support@acme.example\nSubject: x\n\nbody\n"))

    def test_broken_parts_do_not_crash(self) -> None:
        """Lying charsets, a missing boundary and bad base64 still give a parsed message."""
        mail = crlf("""\
From: x@customer.example
Subject: =?x-unknown?q?broken?=
Content-Type: multipart/mixed

no boundary at all \xe9
""")
        parsed = parse_mail(mail.replace(b"\\xe9", b"\xe9"))
        assert parsed.text is not None
        assert "no boundary" in parsed.text
        lying = PLAIN.replace(b"charset=utf-8", b"charset=klingon").replace(
            b"Hello", b"H\xc3\xa9llo"
        )
        assert parse_mail(lying).text is not None
        bad_b64 = ALTERNATIVE.replace(b"PHA+R3LDvMOfZSwg", b"!!!not*base64")
        assert isinstance(parse_mail(bad_b64), ParsedMail)


def test_generated_corpus_parses(tmp_path: Path) -> None:
    """200 generated messages (charsets, encodings, attachments, replies) all parse as the generator meant."""
    subprocess.run(
        [sys.executable, str(CORPUS_GENERATOR), "--out", str(tmp_path), "--count", "200"],
        check=True,
        capture_output=True,
    )
    manifest = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == 200
    for record in manifest:
        parsed = parse_mail((tmp_path / "msgs" / record["file"]).read_bytes())
        assert parsed.message_id == record["message_id"].strip("<>"), record["file"]
        if record["in_reply_to"]:
            assert parsed.in_reply_to == [record["in_reply_to"].strip("<>")], record["file"]
        assert parsed.text, record["file"]
        assert bool(parsed.attachments) == bool(record["attachment"]), record["file"]
        assert parsed.classification.kind == MailKind.HUMAN
