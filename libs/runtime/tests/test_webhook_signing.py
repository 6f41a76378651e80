"""Webhook secrets and the Postdesk-Signature header."""

from __future__ import annotations

import hashlib
import hmac

from postdesk_runtime.keyring import Keyring
from postdesk_runtime.webhook_signing import (
    new_secret,
    open_secret,
    seal_secret,
    signature_header,
    verify_signature_header,
)

BODY = '{"id":"1","type":"ticket.created","note":"ü"}'.encode()


def test_header_is_hmac_sha256_of_timestamp_dot_body() -> None:
    """v1 is the hex HMAC-SHA256 of b"<t>.<body>" under the secret, as receivers compute it."""
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature_header("s3cret", 1_700_000_000, BODY) == f"t=1700000000,v1={expected}"


def test_verification_refuses_other_bodies_secrets_and_garbage() -> None:
    """Only the exact body under the same secret verifies."""
    header = signature_header("s3cret", 1_700_000_000, BODY)
    assert verify_signature_header("s3cret", header, BODY)
    assert not verify_signature_header("s3cret", header, BODY + b" ")
    assert not verify_signature_header("other", header, BODY)
    assert not verify_signature_header(
        "s3cret", header.replace("t=1700000000", "t=1700000001"), BODY
    )
    for garbage in ("", "v1=abc", "t=x,v1=abc", "t=1700000000"):
        assert not verify_signature_header("s3cret", garbage, BODY)


def test_secrets_are_fresh_and_sealed_for_their_purpose() -> None:
    """Each secret is new; sealed, it opens again and does not show in the token."""
    ring = Keyring.from_setting(Keyring.generate_setting("k1"))
    secret = new_secret()
    assert secret != new_secret()
    assert len(secret) >= 40
    sealed = seal_secret(ring, secret)
    assert secret not in sealed
    assert open_secret(ring, sealed) == secret
