"""Attachment names, sniffed types, hashes and dedupe."""

from __future__ import annotations

import hashlib

import pytest
from postdesk_parser.attachments import (
    MAX_FILENAME_CHARS,
    dedupe,
    make_attachment,
    safe_filename,
    sniff_type,
)


class TestSafeFilename:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\x\\report.pdf", "report.pdf"),
            (".bashrc", "bashrc"),
            ("in\x00voice\x1b.pdf", "invoice.pdf"),
            ("invoice\u202efdp.exe", "invoicefdp.exe"),
            ('what?<is>"this"|.txt', "whatisthis.txt"),
            ("CON.txt", "_CON.txt"),
            ("...", None),
            ("", None),
            (None, None),
        ],
    )
    def test_cleans(self, name: str | None, expected: str | None) -> None:
        """Path parts, control and format characters, leading dots and reserved names are handled."""
        assert safe_filename(name) == expected

    def test_long_names_keep_extension(self) -> None:
        """Names over the cap are cut to 150 characters with the extension kept."""
        name = safe_filename("a" * 400 + ".pdf")
        assert name is not None
        assert len(name) == MAX_FILENAME_CHARS
        assert name.endswith("a.pdf")


class TestSniff:
    @pytest.mark.parametrize(
        ("data", "kind"),
        [
            (b"%PDF-1.7\n", "application/pdf"),
            (b"\x89PNG\r\n\x1a\n....", "image/png"),
            (b"\xff\xd8\xff\xe0..JFIF", "image/jpeg"),
            (b"GIF89a....", "image/gif"),
            (b"PK\x03\x04" + b"\x00" * 26 + b"x.txt", "application/zip"),
            (
                b"PK\x03\x04" + b"\x00" * 26 + b"[Content_Types].xml....word/document.xml",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            (
                b"PK\x03\x04" + b"\x00" * 26 + b"[Content_Types].xml....xl/workbook.xml",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1....", "application/x-ole-storage"),
            (b"MZ\x90\x00", "application/vnd.microsoft.portable-executable"),
            (b"\x7fELF\x02\x01", "application/x-executable"),
            (b"hello", None),
        ],
    )
    def test_magic(self, data: bytes, kind: str | None) -> None:
        """A few magic numbers are recognised; anything else is unknown."""
        assert sniff_type(data) == kind

    def test_sniffed_only_when_different(self) -> None:
        """sniffed_type is set when the bytes contradict the declared type, not when they agree."""
        exe = make_attachment(
            b"MZ\x90\x00", filename="invoice.pdf", content_type="application/pdf", number=1
        )
        assert exe.sniffed_type == "application/vnd.microsoft.portable-executable"
        jpeg = make_attachment(
            b"\xff\xd8\xff\xe0", filename="a.jpg", content_type="image/jpg", number=1
        )
        assert jpeg.sniffed_type is None
        assert jpeg.sha256 == hashlib.sha256(b"\xff\xd8\xff\xe0").hexdigest()

    def test_default_names(self) -> None:
        """Unnamed parts get a name from their type."""
        part = make_attachment(b"x", filename=None, content_type="image/png", number=3)
        assert part.filename == "part-3.png"

    def test_dedupe(self) -> None:
        """Same bytes and name are kept once; same bytes under another name are kept."""
        a = make_attachment(b"x", filename="a.txt", content_type="text/plain", number=1)
        b = make_attachment(b"x", filename="b.txt", content_type="text/plain", number=2)
        assert dedupe([a, a, b]) == [a, b]
