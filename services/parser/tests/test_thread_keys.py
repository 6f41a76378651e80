"""Threading keys: normalised subject, ticket tag, Outlook Thread-Index, plus tokens."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from postdesk_parser.domain import parse_mail
from postdesk_parser.thread_keys import (
    decode_thread_index,
    find_ticket_tag,
    format_ticket_tag,
    normalize_subject,
    plus_tokens,
)


class TestNormalizeSubject:
    @pytest.mark.parametrize(
        "subject",
        [
            "Re: Order 1234 is late",
            "RE: Re: re: Order 1234 is late",
            "Fwd: Fw: FW: Order 1234 is late",
            "AW: WG: Order 1234 is late",
            "SV: VS: Order 1234 is late",
            "Antw: Doorst: Order 1234 is late",
            "TR: RV: Enc: Order 1234 is late",
            "Balas: Trs: Tr: Order 1234 is late",
            "RE[2]: Re^2: Re(3): Order 1234 is late",
            "回复: 答复: 转发: Order 1234 is late",
            "返信: 転送: Order 1234 is late",
            "Ответ: Переслать: Order 1234 is late",
            "Re\uff1a Fwd\uff1aOrder 1234 is late",
            "[EXTERNAL] Re: [#42] Order 1234 is late",
            "Re: [Ticket#42]  Order   1234 is late ",
            "【外部】Re: Order 1234 is late",
        ],
    )
    def test_prefixes_tags_and_spacing_go(self, subject: str) -> None:
        """Every reply/forward prefix run, bracketed tag and whitespace run is removed, case folded."""
        assert normalize_subject(subject) == "order 1234 is late"

    def test_prefix_words_inside_the_subject_stay(self) -> None:
        """Only leading prefixes go: 'Re:' in the middle and words like 'Response' stay."""
        assert normalize_subject("Response time Re: SLA") == "response time re: sla"

    def test_only_prefixes_gives_empty(self) -> None:
        """A subject of prefixes only normalises to the empty string."""
        assert normalize_subject("Re: Fwd: ") == ""


class TestTicketTag:
    @pytest.mark.parametrize(
        ("subject", "tag"),
        [
            ("Re: [#1234] Your order", "1234"),
            ("[Ticket#1234] Your order", "1234"),
            ("[ticket #0042] x", "42"),
            ("Re: [#1] old [#2] new", "2"),
            ("Order #1234 is late", None),
            ("[#] nothing", None),
        ],
    )
    def test_tags(self, subject: str, tag: str | None) -> None:
        """Both tag formats are read; the number is returned; bare #1234 is not a tag."""
        assert find_ticket_tag(subject) == tag

    def test_canonical_format_round_trips(self) -> None:
        """The tag postdesk writes is read back as the same number."""
        assert format_ticket_tag(1234) == "[#1234]"
        assert find_ticket_tag(f"Re: {format_ticket_tag(1234)} hi") == "1234"


class TestThreadIndex:
    def test_decodes_guid_time_and_replies(self) -> None:
        """The 22-byte header gives the GUID and FILETIME; each 5-byte block is one reply."""
        guid = uuid.UUID("7124358d-5b82-4c52-ab7d-033b1c3dbfb5")
        when = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
        filetime = int((when - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)
        header = (filetime >> 16).to_bytes(6, "big") + guid.bytes
        value = base64.b64encode(header + b"\x00" * 10).decode()
        decoded = decode_thread_index(value)
        assert decoded is not None
        assert decoded.guid == guid
        assert decoded.root == guid.hex
        assert decoded.replies == 2
        assert decoded.created is not None
        assert abs((decoded.created - when).total_seconds()) < 1

    @pytest.mark.parametrize(
        "value", [None, "", "not base64!!", base64.b64encode(b"short").decode()]
    )
    def test_rejects_non_thread_index(self, value: str | None) -> None:
        """Missing, invalid or too-short values decode to None."""
        assert decode_thread_index(value) is None

    def test_kept_as_is_on_the_parse_result(self) -> None:
        """parse_mail keeps the Thread-Index header value unchanged."""
        raw = b"From: a@b.example\r\nThread-Index: AdNZb8kOcSQ1jVuCTFKrfQM7HD2/tQ==\r\n\r\nhi\r\n"
        assert parse_mail(raw).thread_index == "AdNZb8kOcSQ1jVuCTFKrfQM7HD2/tQ=="


class TestPlusTokens:
    def test_tokens_in_order_without_repeats(self) -> None:
        """reply+TOKEN@ gives TOKEN; plain addresses give nothing; repeats are dropped."""
        found = plus_tokens(
            [
                "reply+t1@acme.example",
                "cs@acme.example",
                "x+t2+y@a.example",
                "reply+t1@acme.example",
            ]
        )
        assert found == ["t1", "t2+y"]

    def test_from_recipient_headers(self) -> None:
        """parse_mail collects tokens from To, Cc and Delivered-To, never from From."""
        raw = (
            b"From: alice+me@customer.example\r\nTo: reply+abc@acme.example\r\n"
            b"Cc: cs+billing@acme.example\r\nDelivered-To: in+xyz@acme.example\r\n\r\nhi\r\n"
        )
        assert parse_mail(raw).plus_tokens == ["abc", "billing", "xyz"]
