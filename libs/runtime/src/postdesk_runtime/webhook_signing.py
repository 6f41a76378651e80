"""Webhook secrets and signatures, shared by the gateway (which issues secrets) and the
notifier (which signs with them).

A secret is stored sealed with the keyring under `SECRET_PURPOSE`. A request
is signed with `Postdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
f"{t}.{raw body}" under the secret>`; the receiver recomputes the HMAC over
the exact bytes it received and should refuse an old `t` (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

from postdesk_runtime.keyring import Keyring

SECRET_PURPOSE: Final = b"webhook-secret"
SIGNATURE_HEADER: Final = "Postdesk-Signature"
SECRET_BYTES: Final = 32


def new_secret() -> str:
    """A fresh URL-safe secret, shown to the admin once."""
    return secrets.token_urlsafe(SECRET_BYTES)


def seal_secret(keyring: Keyring, secret: str) -> str:
    return keyring.encrypt_text(secret, purpose=SECRET_PURPOSE)


def open_secret(keyring: Keyring, sealed: str) -> str:
    return keyring.decrypt_text(sealed, purpose=SECRET_PURPOSE)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of f"{timestamp}.{body}" under `secret`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the Postdesk-Signature header for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify_signature_header(secret: str, header: str, body: bytes) -> bool:
    """Whether `header` carries a v1 signature of `body` under `secret` (constant time).
    The timestamp's age is the receiver's to judge."""
    parts = dict(part.partition("=")[::2] for part in header.split(","))
    timestamp = parts.get("t", "")
    if not timestamp.isdigit() or "v1" not in parts:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), parts["v1"])
