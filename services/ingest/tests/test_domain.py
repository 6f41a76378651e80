"""Webhook signature verification and the dedupe key, as pure rules."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from postdesk_ingest.domain import DedupeKey, SignatureError, sign, verify_signature

SECRET = b"s3cret"
BODY = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
NOW = 1_700_000_000.0


def verify(timestamp: str | None, signature: str | None, *, body: bytes = BODY) -> None:
    verify_signature(
        SECRET, timestamp=timestamp, signature=signature, body=body, now=NOW, window_seconds=300
    )


class TestSignature:
    def test_sign_is_hmac_sha256_of_timestamp_dot_body(self) -> None:
        """The signature is sha256=<hex HMAC-SHA256(secret, "<ts>." + body)>, as documented."""
        expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
        assert sign(SECRET, "1700000000", BODY) == "sha256=" + expected

    def test_good_signature_passes(self) -> None:
        """A fresh timestamp and the right signature verify."""
        verify("1700000000", sign(SECRET, "1700000000", BODY))

    def test_uppercase_hex_passes(self) -> None:
        """Hex digits are compared case-insensitively."""
        good = sign(SECRET, "1700000000", BODY)
        verify("1700000000", "sha256=" + good.removeprefix("sha256=").upper())

    def test_small_clock_skew_passes(self) -> None:
        """A timestamp inside the window, in the past or the future, verifies."""
        for ts in ("1699999750", "1700000250"):
            verify(ts, sign(SECRET, ts, BODY))

    def test_wrong_secret_fails(self) -> None:
        """A signature made with another secret is a mismatch."""
        with pytest.raises(SignatureError, match="mismatch"):
            verify("1700000000", sign(b"other", "1700000000", BODY))

    def test_tampered_body_fails(self) -> None:
        """Changing one byte of the body breaks the signature."""
        with pytest.raises(SignatureError, match="mismatch"):
            verify("1700000000", sign(SECRET, "1700000000", BODY), body=BODY + b"!")

    def test_signature_bound_to_timestamp(self) -> None:
        """A signature replayed with a different (fresh) timestamp fails."""
        with pytest.raises(SignatureError, match="mismatch"):
            verify("1700000001", sign(SECRET, "1700000000", BODY))

    @pytest.mark.parametrize("ts", ["1699999699", "1700000301", "0"])
    def test_stale_or_future_timestamp_fails(self, ts: str) -> None:
        """Timestamps more than 300 s away from now are refused even when correctly signed."""
        with pytest.raises(SignatureError, match="replay window"):
            verify(ts, sign(SECRET, ts, BODY))

    @pytest.mark.parametrize(
        ("timestamp", "signature"),
        [(None, "sha256=00"), ("1700000000", None), (None, None), ("", "")],
    )
    def test_missing_headers_fail(self, timestamp: str | None, signature: str | None) -> None:
        """A missing timestamp or signature is refused."""
        with pytest.raises(SignatureError, match="missing"):
            verify(timestamp, signature)

    def test_malformed_timestamp_fails(self) -> None:
        """A timestamp that is not an integer is refused."""
        with pytest.raises(SignatureError, match="malformed"):
            verify("yesterday", sign(SECRET, "yesterday", BODY))

    def test_signature_without_scheme_fails(self) -> None:
        """The bare hex digest without "sha256=" does not verify."""
        bare = sign(SECRET, "1700000000", BODY).removeprefix("sha256=")
        with pytest.raises(SignatureError, match="mismatch"):
            verify("1700000000", bare)


class TestDedupeKey:
    SHA = hashlib.sha256(BODY).hexdigest()

    def test_format_is_sha_colon_sha_of_recipients(self) -> None:
        """The key is <sha256 of raw>:<sha256 of the sorted lower-cased recipients>."""
        key = DedupeKey.of(self.SHA, ["B@x.example", "a@x.example"])
        recipients = hashlib.sha256(b"a@x.example\nb@x.example").hexdigest()
        assert str(key) == f"{self.SHA}:{recipients}"

    def test_recipient_order_case_and_repeats_do_not_matter(self) -> None:
        """The same recipients in any order, case or repetition give the same key and event id."""
        one = DedupeKey.of(self.SHA, ["a@x.example", "b@x.example"])
        two = DedupeKey.of(self.SHA, [" B@X.example", "A@x.example", "a@x.example", ""])
        assert str(one) == str(two)
        assert one.event_id == two.event_id

    def test_different_recipients_or_bytes_differ(self) -> None:
        """Another recipient set or other bytes is another delivery with another event id."""
        base = DedupeKey.of(self.SHA, ["a@x.example"])
        assert base.event_id != DedupeKey.of(self.SHA, ["b@x.example"]).event_id
        assert base.event_id != DedupeKey.of(self.SHA, []).event_id
        assert base.event_id != DedupeKey.of("0" * 64, ["a@x.example"]).event_id

    def test_event_id_is_stable(self) -> None:
        """The event id is a uuid5 that does not change between runs."""
        key = DedupeKey.of("0" * 64, [])
        assert key.event_id.version == 5
        assert str(key.event_id) == str(DedupeKey.of("0" * 64, []).event_id)


def test_signature_headers_verify() -> None:
    """Headers made by the client helper pass verification at the same moment."""
    from postdesk_ingest.domain import signature_headers, verify_signature

    headers = signature_headers("s3cret", b"raw", now=1_700_000_000)
    verify_signature(
        b"s3cret",
        timestamp=headers["X-Postdesk-Timestamp"],
        signature=headers["X-Postdesk-Signature"],
        body=b"raw",
        now=1_700_000_010,
        window_seconds=300,
    )
