"""An outbound request as the RFC 5322 message it is sent as."""

from __future__ import annotations

import base64
import email
import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, MIMEPart
from typing import Any

import pytest
from postdesk_contracts import Address, OutboundRequested
from postdesk_outbound.compose import (
    AttachmentPart,
    Conversation,
    compose,
    envelope_recipients,
    tagged_subject,
    wants_signature,
)
from postdesk_outbound.thread_index import conversation_guid, filetime, thread_index
from postdesk_parser.thread_keys import decode_thread_index

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


def body(message: MIMEPart) -> str:
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
    with pytest.raises(ValueError, match="control character"):
        compose(request(**overrides), from_address=FROM, date=DATE)


def test_line_breaks_in_the_from_address_are_refused() -> None:
    with pytest.raises(ValueError, match="control character"):
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


# ---- bodies: text, HTML, attachments -----------------------------------------------------------

TICKET_ID = uuid.UUID("0b7e7a52-5d3e-4f4e-9a57-0c6f9a0c1d22")
STARTED = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def conversation(**overrides: Any) -> Conversation:
    fields: dict[str, Any] = {
        "ticket_id": TICKET_ID,
        "number": 12,
        "subject": "Printer on fire",
        "started_at": STARTED,
        "earlier_messages": 0,
    }
    fields.update(overrides)
    return Conversation(**fields)


def part_types(message: MIMEPart) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def test_text_only_is_a_single_text_part() -> None:
    """Without HTML no HTML is invented: one text/plain part."""
    message = sent(compose(request(kind="reply", auto_submitted=None), from_address=FROM))
    assert part_types(message) == ["text/plain"]


def test_html_makes_a_multipart_alternative_of_text_and_html() -> None:
    """The text part comes first (least preferred), the HTML is a whole UTF-8 document."""
    req = request(kind="reply", auto_submitted=None, html="<p>We got <b>your</b> mail.</p>")
    message = sent(compose(req, from_address=FROM, date=DATE))
    assert part_types(message) == ["multipart/alternative", "text/plain", "text/html"]
    text_part, html_part = message.iter_parts()
    assert body(text_part).startswith("We got your mail.")
    html = body(html_part)
    assert html_part.get_content_charset() == "utf-8"
    assert html.startswith("<!DOCTYPE html>")
    assert "<p>We got <b>your</b> mail.</p>" in html


def test_html_without_text_gets_a_text_rendering() -> None:
    req = request(
        kind="reply",
        auto_submitted=None,
        text="",
        html="<p>Hello&nbsp;Carol,</p><p>fixed &amp; done.<br>Bye</p><script>x()</script>",
    )
    text_part, _ = sent(compose(req, from_address=FROM, date=DATE)).iter_parts()
    assert body(text_part) == "Hello\xa0Carol,\nfixed & done.\nBye\n"


@pytest.mark.parametrize(
    ("html", "gone", "kept"),
    [
        ('<p>hi</p><script>alert("x")</script>', ["<script", "alert"], ["<p>hi</p>"]),
        ('<a href="javascript:alert(1)">x</a>', ["javascript"], [">x</a>"]),
        ('<a href="https://acme.example/faq" onclick="steal()">faq</a>', ["onclick", "steal"],
         ['href="https://acme.example/faq"', 'rel="noopener noreferrer"']),
        ('<img src="x" onerror="steal()">', ["onerror", 'src="x"'], []),
        ('<img src="cid:logo@acme.example" alt="logo">', [], ['src="cid:logo@acme.example"']),
        ("<style>body{display:none}</style><p>a</p>", ["display", "<style"], ["<p>a</p>"]),
        ('<p style="color: red; background-image: url(https://t.example/px)">a</p>',
         ["background-image", "t.example"], ['<p style="color:red">a</p>']),
        ('<iframe src="https://evil.example"></iframe><form><input name="pw"></form>',
         ["iframe", "evil", "<form", "<input"], []),
        ("<!-- secret --><p>a</p>", ["secret"], ["<p>a</p>"]),
    ],
)  # fmt: skip
def test_html_is_sanitised(html: str, gone: list[str], kept: list[str]) -> None:
    """What an agent sends carries no scripts, handlers, frames, forms or loading styles."""
    req = request(kind="reply", auto_submitted=None, html=html)
    _, html_part = sent(compose(req, from_address=FROM, date=DATE)).iter_parts()
    result = body(html_part)
    for fragment in gone:
        assert fragment not in result
    for fragment in kept:
        assert fragment in result


def test_attachments_round_trip_through_the_parser() -> None:
    """Bytes, content type and a non-ASCII filename arrive as sent, in multipart/mixed."""
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
    attachments = [
        AttachmentPart(
            filename="Rechnung März 2024 ✓.pdf", content_type="application/pdf", data=pdf
        ),
        AttachmentPart(
            filename="notes.txt", content_type="text/plain; charset=utf-8", data=b"a\r\nb"
        ),
        AttachmentPart(filename="weird", content_type="not a type", data=b"\x00\x01"),
    ]
    req = request(kind="reply", auto_submitted=None, html="<p>see attached</p>")
    raw = compose(req, from_address=FROM, date=DATE, attachments=attachments).as_bytes()
    assert b"filename*=utf-8''Rechnung%20M%C3%A4rz%202024%20%E2%9C%93.pdf" in raw
    message = sent(compose(req, from_address=FROM, date=DATE, attachments=attachments))
    assert message.get_content_type() == "multipart/mixed"
    found = list(message.iter_attachments())
    assert [a.get_filename() for a in found] == ["Rechnung März 2024 ✓.pdf", "notes.txt", "weird"]
    assert [a.get_content_type() for a in found] == [
        "application/pdf",
        "text/plain",
        "application/octet-stream",
    ]
    assert [a.get_payload(decode=True) for a in found] == [pdf, b"a\r\nb", b"\x00\x01"]
    assert part_types(message)[:4] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_inline_images_are_related_to_the_html() -> None:
    """An inline part with a Content-ID goes into multipart/related beside the HTML."""
    logo = AttachmentPart(
        filename="logo.png",
        content_type="image/png",
        data=b"\x89PNG\r\n",
        content_id="logo@acme.example",
        inline=True,
    )
    req = request(kind="reply", auto_submitted=None, html='<img src="cid:logo@acme.example">')
    message = sent(compose(req, from_address=FROM, date=DATE, attachments=[logo]))
    assert part_types(message) == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    image = list(message.walk())[-1]
    assert image["Content-ID"] == "<logo@acme.example>"
    assert image.get_payload(decode=True) == b"\x89PNG\r\n"


def test_attachment_paths_are_reduced_to_the_name() -> None:
    parts = [AttachmentPart(filename="../../etc/passwd", content_type="text/plain", data=b"x")]
    message = sent(compose(request(), from_address=FROM, date=DATE, attachments=parts))
    [attachment] = message.iter_attachments()
    assert attachment.get_filename() == "passwd"


# ---- signature ----------------------------------------------------------------------------------


def test_a_reply_is_signed_in_text_and_html() -> None:
    req = request(kind="reply", auto_submitted=None, text="Fixed.", html="<p>Fixed.</p>")
    signature = "Dana <Support>\nAcme & Co"
    text_part, html_part = sent(
        compose(req, from_address=FROM, date=DATE, signature=signature)
    ).iter_parts()
    assert body(text_part) == "Fixed.\n\n-- \nDana <Support>\nAcme & Co\n"
    assert (
        '<div class="postdesk-signature">-- <br>\nDana &lt;Support&gt;<br>\nAcme &amp; Co</div>'
        in body(html_part)
    )


@pytest.mark.parametrize("kind", ["auto_reply", "notification"])
def test_automatic_mail_is_not_signed(kind: str) -> None:
    req = request(kind=kind, text="We got your mail.")
    message = sent(compose(req, from_address=FROM, date=DATE, signature="Dana"))
    assert body(message) == "We got your mail.\n"


def test_a_body_that_ends_with_the_signature_is_not_signed_twice() -> None:
    req = request(kind="reply", auto_submitted=None, text="Fixed.\n\n-- \nDana\n", html="<p>x</p>")
    text_part, html_part = sent(
        compose(req, from_address=FROM, date=DATE, signature="Dana")
    ).iter_parts()
    assert body(text_part).count("Dana") == 1
    assert "postdesk-signature" not in body(html_part)


# ---- threading: ticket tag, Thread-Topic, Thread-Index ------------------------------------------


@pytest.mark.parametrize(
    ("subject", "tag", "expected"),
    [
        ("Re: Printer on fire", True, "Re: Printer on fire [#12]"),
        ("Re: Printer on fire [#12]", True, "Re: Printer on fire [#12]"),
        ("Re: [Ticket#12] Printer on fire", True, "Re: [Ticket#12] Printer on fire"),
        ("Re: Printer on fire [#99]", True, "Re: Printer on fire [#99] [#12]"),
        ("Re: Printer on fire", False, "Re: Printer on fire"),
    ],
)
def test_the_ticket_tag_is_in_the_subject_once(subject: str, tag: bool, expected: str) -> None:
    message = sent(
        compose(
            request(subject=subject),
            from_address=FROM,
            date=DATE,
            conversation=conversation(),
            subject_tag=tag,
        )
    )
    assert message["Subject"] == expected


def test_no_tag_without_a_ticket() -> None:
    message = sent(compose(request(subject="Hello"), from_address=FROM, subject_tag=True))
    assert message["Subject"] == "Hello"
    assert message["Thread-Index"] is None
    assert message["Thread-Topic"] is None


@pytest.mark.parametrize(
    ("ticket_subject", "topic"),
    [
        ("Printer on fire", "Printer on fire"),
        ("RE: AW: [EXTERNAL] Drucker  brennt [#12]", "Drucker brennt"),
        ("Fwd: 打印机 着火了", "打印机 着火了"),
        ("Bad\x07subject\x85here", "Bad subject here"),
    ],
)
def test_thread_topic_is_the_ticket_subject_without_prefixes(
    ticket_subject: str, topic: str
) -> None:
    """Case kept; control characters in a stored subject are replaced, not refused."""
    message = sent(
        compose(
            request(),
            from_address=FROM,
            date=DATE,
            conversation=conversation(subject=ticket_subject),
        )
    )
    assert message["Thread-Topic"] == topic


def test_thread_index_names_the_ticket_and_deepens_with_each_reply() -> None:
    """Every mail of a ticket shares the GUID and creation time; each reply adds a block."""
    decoded = []
    for earlier in range(4):
        message = sent(
            compose(
                request(outbound_id=uuid.uuid4()),
                from_address=FROM,
                date=DATE + timedelta(hours=earlier),
                conversation=conversation(earlier_messages=earlier),
            )
        )
        index = decode_thread_index(str(message["Thread-Index"]))
        assert index is not None
        decoded.append(index)
    assert {d.guid for d in decoded} == {conversation_guid(TICKET_ID)}
    assert conversation_guid(TICKET_ID) != TICKET_ID
    assert [d.replies for d in decoded] == [1, 2, 3, 4]
    for index in decoded:
        assert index.created is not None
        assert timedelta(0) <= STARTED - index.created < timedelta(milliseconds=7)


def test_a_first_mail_that_answers_nothing_has_no_child_block() -> None:
    message = sent(
        compose(
            request(in_reply_to=None, references=[]),
            from_address=FROM,
            date=DATE,
            conversation=conversation(),
        )
    )
    index = decode_thread_index(str(message["Thread-Index"]))
    assert index is not None
    assert index.replies == 0


def test_other_tickets_have_other_conversations() -> None:
    other = uuid.uuid4()
    first = sent(compose(request(), from_address=FROM, date=DATE, conversation=conversation()))
    second = sent(
        compose(request(), from_address=FROM, date=DATE, conversation=conversation(ticket_id=other))
    )
    a = decode_thread_index(str(first["Thread-Index"]))
    b = decode_thread_index(str(second["Thread-Index"]))
    assert a is not None
    assert b is not None
    assert a.guid != b.guid


def test_thread_index_child_blocks_add_up_to_the_date() -> None:
    """The last block carries the time since the ticket started (in 2^18-tick units)."""
    when = STARTED + timedelta(days=3)
    value = thread_index(ticket_id=TICKET_ID, started_at=STARTED, replies=2, at=when, salt=b"x")
    data = base64.b64decode("".join(value.split()))
    assert len(data) == 22 + 2 * 5
    header_ticks = int.from_bytes(data[:6], "big") << 16
    first, last = data[22:27], data[27:32]
    assert int.from_bytes(first[:4], "big") == 0
    assert first[4] & 0x0F == 0
    assert last[4] & 0x0F == 1
    delta = int.from_bytes(last[:4], "big")
    assert delta >> 31 == 0
    total = header_ticks + ((delta & 0x7FFFFFFF) << 18)
    assert abs(total - filetime(when)) < 1 << 18


def test_a_long_thread_index_is_folded_and_still_decodes() -> None:
    """Many replies make a long value: folded into short lines, never into encoded words."""
    message_obj = compose(
        request(), from_address=FROM, date=DATE, conversation=conversation(earlier_messages=60)
    )
    head = message_obj.as_bytes().split(b"\r\n\r\n")[0].decode("ascii")
    lines = head.split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Thread-Index: "))
    folded = [lines[start], *itertools.takewhile(lambda x: x.startswith(" "), lines[start + 1 :])]
    assert len(folded) > 1
    assert all(len(line) <= 78 and "=?" not in line for line in folded)
    index = decode_thread_index(str(sent(message_obj)["Thread-Index"]))
    assert index is not None
    assert index.replies == 61
    assert index.guid == conversation_guid(TICKET_ID)


# ---- addresses and injection --------------------------------------------------------------------


def test_an_international_domain_is_written_in_idna() -> None:
    req = request(to=[Address(name="Zoë", email="zoe@exämple.com")])
    message = sent(compose(req, from_address=FROM, date=DATE))
    assert message["To"].addresses[0].addr_spec == "zoe@xn--exmple-cua.com"


def test_a_non_ascii_local_part_is_refused() -> None:
    with pytest.raises(ValueError, match="non-ASCII local part"):
        compose(request(to=[Address(email="zoë@example.com")]), from_address=FROM, date=DATE)


CONTROLS = ["\r", "\n", "\x00", "\x01", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]


def injected_sources(bad: str) -> list[tuple[dict[str, Any], list[AttachmentPart], Address]]:
    """Every place a header value comes from, each carrying `bad`."""
    ok_part = [AttachmentPart(filename="a.txt", content_type="text/plain", data=b"x")]
    to = [Address(name="Carol", email="carol@customer.example")]
    return [
        ({"subject": f"Hi{bad}Bcc: v@x.y"}, [], FROM),
        ({"to": [Address(name=f"Carol{bad}", email="carol@customer.example")]}, [], FROM),
        ({"to": [Address(email=f"carol@customer.example{bad}")]}, [], FROM),
        ({"to": to, "cc": [Address(name=f"D{bad}", email="dan@customer.example")]}, [], FROM),
        ({"to": to, "cc": [Address(email=f"dan{bad}@customer.example")]}, [], FROM),
        ({"to": to, "bcc": [Address(name=f"B{bad}", email="b@customer.example")]}, [], FROM),
        ({"reply_to": [Address(name=f"Acme{bad}", email="cs@acme.example")]}, [], FROM),
        ({"reply_to": [Address(email=f"cs@acme.example{bad}")]}, [], FROM),
        ({"message_id": f"a@b{bad}"}, [], FROM),
        ({"in_reply_to": f"a@b{bad}"}, [], FROM),
        ({"references": ["a@b", f"c@d{bad}"]}, [], FROM),
        ({"auto_submitted": f"auto-replied{bad}"}, [], FROM),
        ({}, [], Address(name=f"Acme{bad}", email="cs@acme.example")),
        ({}, [], Address(name="Acme", email=f"cs@acme.example{bad}")),
        ({}, [AttachmentPart(filename=f"a{bad}.txt", content_type="text/plain", data=b"")], FROM),
        ({}, [AttachmentPart(filename="a.txt", content_type=f"text/plain{bad}", data=b"")], FROM),
        (
            {"html": '<img src="cid:x@y">'},
            [
                AttachmentPart(
                    filename="a.png",
                    content_type="image/png",
                    data=b"",
                    content_id=f"x@y{bad}",
                    inline=True,
                )
            ],
            FROM,
        ),
        ({}, [*ok_part], FROM),  # control: the same message without the bad value composes
    ]


@pytest.mark.parametrize("bad", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_control_characters_in_any_header_source_are_refused(bad: str) -> None:
    """Subject, every display name and address, ids, Auto-Submitted, attachment names,
    types and Content-IDs: any control character raises instead of reaching a header."""
    *bad_sources, (clean, clean_parts, clean_from) = injected_sources(bad)
    compose(request(**clean), from_address=clean_from, date=DATE, attachments=clean_parts)
    for overrides, parts, from_address in bad_sources:
        with pytest.raises(ValueError, match="control character"):
            compose(request(**overrides), from_address=from_address, date=DATE, attachments=parts)


def test_a_tab_is_not_a_control_character_here() -> None:
    message = sent(compose(request(subject="a\tb"), from_address=FROM, date=DATE))
    assert "a" in message["Subject"]
    assert "b" in message["Subject"]


@pytest.mark.parametrize("kind", ["reply", "compose", "auto_reply", "notification"])
def test_wants_signature(kind: str) -> None:
    assert wants_signature(kind) is (kind in {"reply", "compose"})


def test_tagged_subject_of_an_empty_subject() -> None:
    assert tagged_subject("", 7) == "[#7]"
