"""Hostile mail: each limit is hit by a generated message, which is parsed as far as is safe."""

from __future__ import annotations

import base64
import time

import pytest
from postdesk_parser.domain import UnparseableMailError, parse_mail
from postdesk_parser.limits import (
    LIMIT_DECODED_SIZE,
    LIMIT_DEPTH,
    LIMIT_HEADER_LINE,
    LIMIT_HEADERS,
    LIMIT_PARTS,
    LIMIT_TIME,
    ParseLimits,
)

HEAD = b"From: mallory@evil.example\r\nTo: support@acme.example\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n"


def nesting_bomb(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return HEAD + opening + b"Content-Type: text/plain\r\n\r\ndeep text" + closing


def many_parts(count: int, payload: bytes = b"x") -> bytes:
    part = b"--p\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    body = base64.encodebytes(payload)
    return (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n'
        + b"--p\r\nContent-Type: text/plain\r\n\r\nfirst text\r\n"
        + (part + body) * count
        + b"--p--\r\n"
    )


def timed(raw: bytes, limits: ParseLimits | None = None) -> tuple[float, list[str], str | None]:
    start = time.perf_counter()
    parsed = parse_mail(raw, limits=limits)
    return time.perf_counter() - start, parsed.limits_hit, parsed.text


class TestLimits:
    def test_nesting_bomb(self) -> None:
        """10,000 nested multiparts: depth flagged, no recursion error, quick."""
        elapsed, hit, _ = timed(nesting_bomb(10_000))
        assert LIMIT_DEPTH in hit
        assert elapsed < 2.0

    def test_nesting_within_limit_is_read(self) -> None:
        """Nesting under the limit is read to the bottom."""
        _, hit, text = timed(nesting_bomb(15))
        assert hit == []
        assert text == "deep text"

    def test_ten_thousand_parts(self) -> None:
        """10,000 parts: the first 500 are read, the rest flagged, the text kept."""
        start = time.perf_counter()
        parsed = parse_mail(many_parts(10_000))
        assert time.perf_counter() - start < 2.0
        assert LIMIT_PARTS in parsed.limits_hit
        assert parsed.text == "first text"
        assert 0 < len(parsed.attachments) <= 500

    def test_huge_header_count(self) -> None:
        """200,000 header fields: the first 1,000 are read, From among them, the body kept."""
        raw = HEAD + b"X-Junk: a\r\n" * 200_000 + b"\r\nbody text\r\n"
        elapsed, hit, text = timed(raw)
        assert hit == [LIMIT_HEADERS]
        assert text == "body text\r\n"
        assert elapsed < 2.0

    def test_huge_header_line(self) -> None:
        """A 4 MiB header line is cut to the line limit; the rest of the message is read."""
        raw = HEAD + b"X-Long: " + b"a" * (4 * 1024 * 1024) + b"\r\n\r\nbody text\r\n"
        elapsed, hit, text = timed(raw)
        assert hit == [LIMIT_HEADER_LINE]
        assert text == "body text\r\n"
        assert elapsed < 2.0

    def test_from_beyond_the_header_limit_is_rejected(self) -> None:
        """When the limits leave no From to read, the message is rejected with the limit named."""
        raw = b"X-Junk: a\r\n" * 5_000 + HEAD + b"\r\nbody\r\n"
        with pytest.raises(UnparseableMailError, match="max_headers"):
            parse_mail(raw)

    def test_base64_bomb(self) -> None:
        """Parts whose decoded size exceeds the budget are skipped and flagged, before decoding."""
        limits = ParseLimits(max_decoded_bytes=1024 * 1024)
        raw = many_parts(8, b"\x00" * (256 * 1024))
        parsed = parse_mail(raw, limits=limits)
        assert LIMIT_DECODED_SIZE in parsed.limits_hit
        assert sum(len(a.data) for a in parsed.attachments) <= 1024 * 1024
        assert parsed.text == "first text"

    def test_parse_time_is_bounded(self) -> None:
        """A tiny time budget stops a big message early: flagged, and the time really bounded."""
        raw = many_parts(400, b"y" * 4096)
        elapsed, hit, _ = timed(raw, ParseLimits(max_seconds=0.0))
        assert LIMIT_TIME in hit
        assert elapsed < 0.5

    def test_normal_mail_hits_nothing(self) -> None:
        """Ordinary mail parses with no limit flagged."""
        _, hit, _ = timed(many_parts(20))
        assert hit == []
