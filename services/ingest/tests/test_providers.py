"""Provider adapters, pure: signatures, forms, replay tokens, Postmark's MIME rebuild."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from postdesk_ingest.domain import SignatureError
from postdesk_ingest.providers.forms import FormError, parse_form
from postdesk_ingest.providers.mailgun import mailgun_signature, verify_mailgun
from postdesk_ingest.providers.postmark import rebuild_mime, recipients_of
from postdesk_ingest.providers.replay import TokenLedger
from postdesk_ingest.providers.sendgrid import load_public_key, verify_sendgrid
from postdesk_parser.domain import parse_mail

KEY = b"mailgun-signing-key"
NOW = 1_700_000_000


def mailgun_form(**overrides: str) -> dict[str, list[bytes]]:
    fields = {"timestamp": str(NOW), "token": "t" * 50}
    fields["signature"] = mailgun_signature(KEY, fields["timestamp"], fields["token"])
    return {k: [v.encode()] for k, v in (fields | overrides).items()}


class TestMailgunSignature:
    def test_valid_signature_returns_token(self) -> None:
        """HMAC-SHA256(key, timestamp + token) in hex verifies."""
        assert verify_mailgun(KEY, mailgun_form(), now=NOW + 10, window_seconds=300) == "t" * 50

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"signature": "0" * 64}, "mismatch"),
            ({"token": "u" * 50}, "mismatch"),
            ({"timestamp": str(NOW - 301)}, "replay window"),
            ({"timestamp": "soon"}, "malformed"),
            ({"signature": ""}, "missing"),
        ],
    )
    def test_bad_signatures_raise(self, overrides: dict[str, str], reason: str) -> None:
        """A wrong, stale, malformed or missing signature raises SignatureError."""
        with pytest.raises(SignatureError, match=reason):
            verify_mailgun(KEY, mailgun_form(**overrides), now=NOW, window_seconds=300)


class TestTokenLedger:
    def test_reuse_is_refused_until_released_or_expired(self) -> None:
        """A token is taken once; a released or expired one may come again."""
        now = [0.0]
        ledger = TokenLedger(10, clock=lambda: now[0])
        assert ledger.claim("a") is True
        assert ledger.claim("a") is False
        ledger.release("a")
        assert ledger.claim("a") is True
        now[0] = 10.0
        assert ledger.claim("a") is True
        assert len(ledger) == 1

    def test_bounded(self) -> None:
        """At most max_entries tokens are remembered."""
        ledger = TokenLedger(1000, max_entries=5, clock=lambda: 0.0)
        for i in range(50):
            ledger.claim(str(i))
        assert len(ledger) == 5


class TestForms:
    def test_multipart_fields_stay_bytes(self) -> None:
        """8-bit bytes in a multipart field come back exactly as sent."""
        raw = b"Subject: caf\xe9\r\n\r\nLatin-1 body \xe9\xe8\r\n"
        body = (
            b'--XyZ\r\nContent-Disposition: form-data; name="recipient"\r\n\r\na@acme.example\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="body-mime"\r\n\r\n' + raw + b"\r\n"
            b"--XyZ--\r\n"
        )
        form = parse_form('multipart/form-data; boundary="XyZ"', body)
        assert form == {"recipient": [b"a@acme.example"], "body-mime": [raw]}

    def test_urlencoded_fields_stay_bytes(self) -> None:
        """Percent-encoded 8-bit bytes decode to the original bytes."""
        form = parse_form("application/x-www-form-urlencoded", b"body-mime=caf%E9+%0D%0A&x=")
        assert form == {"body-mime": [b"caf\xe9 \r\n"], "x": [b""]}

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("application/json", b"{}"),
            ("multipart/form-data", b"--a\r\n"),
            ("multipart/form-data; boundary=a", b"junk"),
        ],
    )
    def test_not_a_form(self, content_type: str, body: bytes) -> None:
        """Another media type, no boundary or a broken body raise FormError."""
        with pytest.raises(FormError):
            parse_form(content_type, body)


class TestSendGridSignature:
    private = ec.generate_private_key(ec.SECP256R1())
    public_b64 = base64.b64encode(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()

    def sign(self, timestamp: str, body: bytes) -> str:
        der = self.private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(der).decode()

    def test_valid_signature(self) -> None:
        """ECDSA P-256 over timestamp + body with SendGrid's base64 DER key verifies."""
        key = load_public_key(self.public_b64)
        signature = self.sign(str(NOW), b"body")
        verify_sendgrid(
            key, timestamp=str(NOW), signature=signature, body=b"body", now=NOW, window_seconds=300
        )

    @pytest.mark.parametrize("case", ["body", "timestamp", "stale", "garbage", "missing"])
    def test_bad_signature(self, case: str) -> None:
        """Another body or timestamp, a stale or garbage signature: SignatureError."""
        key = load_public_key(self.public_b64)
        signature: str | None = self.sign(str(NOW), b"body")
        timestamp, body, now = str(NOW), b"body", NOW
        if case == "body":
            body = b"other"
        elif case == "timestamp":
            timestamp = str(NOW + 1)
        elif case == "stale":
            now = NOW + 301
        elif case == "garbage":
            signature = "not base64!"
        else:
            signature = None
        with pytest.raises(SignatureError):
            verify_sendgrid(
                key,
                timestamp=timestamp,
                signature=signature,
                body=body,
                now=now,
                window_seconds=300,
            )

    def test_key_must_be_p256(self) -> None:
        """A key of another curve, or no key at all, is refused at startup."""
        other = ec.generate_private_key(ec.SECP384R1()).public_key()
        pem = other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        with pytest.raises(ValueError, match="P-256"):
            load_public_key(pem)
        with pytest.raises(ValueError, match="not a public key"):
            load_public_key("bm90IGEga2V5")


def postmark_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "FromName": "Alice",
        "From": "alice@customer.example",
        "FromFull": {"Email": "alice@customer.example", "Name": "Alice Müller"},
        "To": "support@acme.example",
        "ToFull": [{"Email": "support@acme.example", "Name": ""}],
        "Cc": "",
        "CcFull": [],
        "OriginalRecipient": "support+orders@acme.example",
        "Subject": "Où est ma commande ?",
        "MessageID": "22c74902-a0c1-4511-804f2-341342852c90",
        "Date": "Thu, 5 Apr 2012 16:59:01 +0200",
        "TextBody": "Hello, my order is late.\n",
        "HtmlBody": "<p>Hello, my order is <b>late</b>.</p>",
        "Headers": [
            {"Name": "Message-ID", "Value": "<abc123@customer.example>"},
            {"Name": "In-Reply-To", "Value": "<ticket-7@acme.example>"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "MIME-Version", "Value": "1.0"},
        ],
        "Attachments": [
            {
                "Name": "invoice.pdf",
                "Content": base64.b64encode(b"%PDF-1.4 fake").decode(),
                "ContentType": "application/pdf",
                "ContentLength": 13,
            }
        ],
    }
    return payload | overrides


class TestPostmarkRebuild:
    def test_parser_reads_the_rebuilt_message(self) -> None:
        """Subject, From, threading headers, text, HTML and the attachment survive the rebuild."""
        payload = postmark_payload()
        parsed = parse_mail(rebuild_mime(payload, seed=json.dumps(payload).encode()))
        assert parsed.subject == "Où est ma commande ?"
        assert parsed.from_.email == "alice@customer.example"
        assert parsed.from_.name == "Alice Müller"
        assert parsed.message_id == "abc123@customer.example"
        assert parsed.in_reply_to == ["ticket-7@acme.example"]
        assert parsed.text is not None
        assert "my order is late" in parsed.text
        assert parsed.html is not None
        assert "<b>late</b>" in parsed.html
        [attachment] = parsed.attachments
        assert (attachment.filename, attachment.content_type, attachment.data) == (
            "invoice.pdf",
            "application/pdf",
            b"%PDF-1.4 fake",
        )

    def test_rebuild_is_deterministic(self) -> None:
        """The same payload gives the same bytes (a retried post dedupes on the hash)."""
        payload = postmark_payload()
        seed = json.dumps(payload).encode()
        assert rebuild_mime(payload, seed=seed) == rebuild_mime(payload, seed=seed)

    def test_without_message_id_header_uses_postmark_id(self) -> None:
        """No Message-ID header: one is made from Postmark's MessageID."""
        payload = postmark_payload(Headers=[], Attachments=[], HtmlBody="")
        parsed = parse_mail(rebuild_mime(payload, seed=b"x"))
        assert parsed.message_id == "22c74902-a0c1-4511-804f2-341342852c90@inbound.postmarkapp.com"
        assert parsed.attachments == []

    def test_recipients(self) -> None:
        """OriginalRecipient first, else every ToFull address."""
        assert recipients_of(postmark_payload()) == ["support+orders@acme.example"]
        assert recipients_of(postmark_payload(OriginalRecipient="")) == ["support@acme.example"]
