"""MIME shapes real clients send (tests/corpus/mime), charsets, and TNEF, through parse_mail."""

from __future__ import annotations

from pathlib import Path

import pytest
from postdesk_parser.charsets import decode_bytes, fix_surrogates
from postdesk_parser.domain import ParsedMail, parse_mail
from postdesk_parser.tnef import read_tnef

from .tnef_writer import TnefFile, build_tnef

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "corpus" / "mime"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


def sample(name: str) -> ParsedMail:
    return parse_mail((CORPUS / name).read_bytes())


def listing(parsed: ParsedMail) -> list[tuple[str, str, bool]]:
    return [(a.filename, a.content_type, a.inline) for a in parsed.attachments]


class TestShapes:
    def test_mixed_joins_inline_text_parts(self) -> None:
        """Apple Mail's text, image, text: both text parts are kept, in order, the image listed."""
        parsed = sample("apple_mixed_inline.eml")
        assert (
            parsed.text
            == "Here is the box as it arrived:\n\nAnd the label is torn too. Grüße, Alice"
        )
        assert listing(parsed) == [("IMG_0042.png", "image/png", True)]

    def test_related_alternative_maps_cid_and_blocks_remote(self) -> None:
        """Outlook's related/alternative: plain text chosen, HTML sanitised, cid image mapped, tracker blocked."""
        parsed = sample("outlook_related.eml")
        assert parsed.text is not None
        assert parsed.text.startswith("Please see the logo:")
        logo = parsed.attachments[0]
        assert (logo.filename, logo.inline, logo.content_id) == (
            "image001.png",
            True,
            "image001.png@01DA6E1C.5A3B2C10",
        )
        assert parsed.html is not None
        assert f'src="postdesk-attachment:{logo.sha256}"' in parsed.html
        assert 'data-blocked-src="https://tracker.example/open.gif?u=1"' in parsed.html
        assert parsed.remote_images_blocked == 1
        assert "<script" not in parsed.html
        assert "onclick" not in parsed.html
        assert "<style" not in parsed.html
        assert "color:red" not in parsed.html

    def test_forwarded_message_is_shown_and_its_attachments_listed(self) -> None:
        """message/rfc822: the inner text becomes a forwarded block; the .eml and the inner PDF are attachments."""
        parsed = sample("forwarded_rfc822.eml")
        assert parsed.text is not None
        assert parsed.text.startswith("See the message below.\n\n---------- Forwarded message")
        assert "Subject: Invoice 77 \u2013 due" in parsed.text
        assert "From: Billing <billing@vendor.example>" in parsed.text
        assert parsed.text.endswith("Your invoice 77 is attached.")
        assert listing(parsed) == [
            ("Invoice 77.eml", "message/rfc822", False),
            ("invoice-77.pdf", "application/pdf", False),
        ]

    def test_signed_keeps_signature(self) -> None:
        """multipart/signed: the signed text is the body, the signature a .p7s attachment."""
        parsed = sample("signed_smime.eml")
        assert parsed.text == "Please close my account.\r\n"
        assert listing(parsed) == [("smime.p7s", "application/pkcs7-signature", False)]

    def test_encrypted_parts_are_attachments(self) -> None:
        """multipart/encrypted: both parts kept as attachments, no text invented."""
        parsed = sample("encrypted_pgp.eml")
        assert parsed.text is None
        assert [a.content_type for a in parsed.attachments] == [
            "application/pgp-encrypted",
            "application/octet-stream",
        ]
        assert b"BEGIN PGP MESSAGE" in parsed.attachments[1].data

    def test_calendar_invitation(self) -> None:
        """text/calendar in an alternative sets has_calendar and is kept as invite.ics."""
        parsed = sample("outlook_invite.eml")
        assert parsed.has_calendar
        assert listing(parsed) == [("invite.ics", "text/calendar", False)]
        assert parsed.text == "Review call on Friday at 10:00.\r\n"

    def test_smtputf8_and_encoded_names(self) -> None:
        """Raw UTF-8 headers, RFC 2231 continuations and RFC 2047 words in names are decoded."""
        parsed = sample("smtputf8_rfc2231.eml")
        assert parsed.subject == "Überweisung für März"
        assert parsed.from_.name == "José Müller"
        assert parsed.from_.email == "josé@bücher.example"
        assert [a.filename for a in parsed.attachments] == [
            "Überweisung März 2024.pdf",
            "Договор.pdf",
        ]
        assert parsed.attachments[1].sniffed_type == "application/pdf"
        assert parsed.text is not None
        assert "日本語も大丈夫です" in parsed.text

    def test_mislabeled_and_unknown_charsets(self) -> None:
        """UTF-8 labelled Latin-1, an unknown label and KOI8-R all come out as the text written."""
        parsed = sample("mislabeled_charsets.eml")
        assert parsed.text == (
            "Olá, a fatura está errada. Obrigado!\n\n"
            "Segunda parte: não sei a codificação.\n\n"
            "Привет, заказ не пришёл."
        )

    def test_winmail_dat_is_unpacked(self) -> None:
        """winmail.dat is replaced by the files inside it, with their long names and types."""
        parsed = sample("outlook_winmail.eml")
        assert [(a.filename, a.content_type) for a in parsed.attachments] == [
            ("Quarterly report 2024.pdf", "application/pdf"),
            ("image001.png", "image/png"),
        ]
        assert parsed.attachments[0].data.startswith(b"%PDF-1.4")
        assert parsed.attachments[1].content_id == "image001.png@01DA6E1C.5A3B2C10"
        assert parsed.text is not None
        assert "quarterly figures" in parsed.text

    def test_identical_attachments_are_deduped(self) -> None:
        """The same bytes under the same name twice in one message are listed once."""
        part = (
            b"--d\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="a.pdf"\r\n\r\n%PDF-1.4 x\r\n'
        )
        raw = (
            b"From: a@x.example\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="d"\r\n\r\n'
            + b"--d\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
            + part
            + part
            + b"--d--\r\n"
        )
        assert [a.filename for a in parse_mail(raw).attachments] == ["a.pdf"]


class TestCharsets:
    @pytest.mark.parametrize(
        ("data", "label", "expected"),
        [
            ("Grüße".encode(), "iso-8859-1", "Grüße"),
            ("Grüße".encode("latin-1"), "utf-8", "Grüße"),
            ("Grüße".encode("latin-1"), "us-ascii", "Grüße"),
            (
                "こんにちは、お元気ですか".encode("shift_jis"),
                "x-unknown",
                "こんにちは、お元気ですか",
            ),
            ("你好\uff0c订单没有到".encode("gb2312"), "gb2312", "你好\uff0c订单没有到"),
            ("안녕하세요".encode("cp949"), "ks_c_5601-1987", "안녕하세요"),
            (b"plain", "rot13", "plain"),
            (b"plain", "unicode_escape", "plain"),
            (b"\\u0041", "unicode_escape", "\\u0041"),
        ],
    )
    def test_decode(self, data: bytes, label: str, expected: str) -> None:
        """Declared, mislabelled, unknown and dangerous labels all give the text written."""
        assert decode_bytes(data, label) == expected

    def test_every_python_codec_is_safe(self) -> None:
        """No charset label Python knows makes decoding raise."""
        from encodings.aliases import aliases

        data = "Grüße, 日本 \x00\xff".encode("utf-8", "replace") + bytes(range(256))
        for label in {*aliases, *aliases.values()}:
            assert isinstance(decode_bytes(data, label), str)

    def test_truncated_utf8_keeps_the_rest(self) -> None:
        """A cut-off last character costs that character only."""
        assert decode_bytes("Grüße ü".encode()[:-1], "utf-8") == "Grüße \ufffd"

    def test_header_surrogates(self) -> None:
        """Raw UTF-8 header bytes kept as surrogate escapes become their characters."""
        escaped = "Grüße".encode().decode("ascii", "surrogateescape")
        assert fix_surrogates(escaped) == "Grüße"


class TestTnef:
    def test_reads_body_html_and_attachments(self) -> None:
        """The reader gets the body, the HTML body and each attachment's name, type and bytes."""
        data = build_tnef(
            "Body text",
            [TnefFile("REPORT~1.PDF", "Report.pdf", "application/pdf", PDF)],
            html="<p>Body</p>",
        )
        content = read_tnef(data)
        assert content is not None
        assert content.complete
        assert content.body_text == "Body text"
        assert content.body_html == "<p>Body</p>"
        [item] = content.attachments
        assert (item.filename, item.content_type, item.data) == (
            "Report.pdf",
            "application/pdf",
            PDF,
        )

    def test_truncated_stream_keeps_what_came_before(self) -> None:
        """A cut stream still yields the attachments before the cut and says it is incomplete."""
        data = build_tnef(
            "x",
            [
                TnefFile("A.PDF", "a.pdf", "application/pdf", PDF),
                TnefFile("B.PDF", "b.pdf", "application/pdf", PDF * 50),
            ],
        )
        content = read_tnef(data[: len(data) - 200])
        assert content is not None
        assert not content.complete
        assert content.attachments[0].filename == "a.pdf"

    def test_not_tnef(self) -> None:
        """Bytes without the signature are not TNEF."""
        assert read_tnef(b"PK\x03\x04 not tnef") is None
