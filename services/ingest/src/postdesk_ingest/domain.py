"""Webhook rules, pure: signature verification and the dedupe key of a received mail.

Signature: `X-Postdesk-Signature: sha256=<hex>` where hex is
HMAC-SHA256(secret, f"{timestamp}.".encode() + body), and
`X-Postdesk-Timestamp` is unix seconds within the replay window of now.

Dedupe key: `<sha256 of the raw bytes>:<sha256 of the sorted, lower-cased
envelope recipients>`. The mail.received event id is a uuid5 of it, so a
retried post carries the same event id.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

SIGNATURE_SCHEME = "sha256="
# Namespace of mail.received event ids derived from dedupe keys; never change it.
RECEIVED_EVENT_NAMESPACE = uuid.UUID("6f1c2f0e-5b0a-4d6e-9a51-2a3c2b7d9e10")


class SignatureError(Exception):
    """The request is not signed by a holder of the webhook secret; `reason` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_SCHEME + digest


def signature_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The headers a client sends to sign `body` at `now` (default: the current time)."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "X-Postdesk-Timestamp": timestamp,
        "X-Postdesk-Signature": sign(secret.encode(), timestamp, body),
    }


def require_fresh(
    timestamp: str | None,
    signature: str | None,
    *,
    now: float,
    window_seconds: int,
    label: str = "",
) -> tuple[str, str]:
    """Both headers present and the timestamp within the replay window; returns them stripped."""
    prefix = f"{label}: " if label else ""
    if not timestamp or not signature:
        raise SignatureError(f"{prefix}missing signature or timestamp header")
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        raise SignatureError(f"{prefix}malformed timestamp") from None
    if abs(now - sent_at) > window_seconds:
        raise SignatureError(f"{prefix}timestamp outside the replay window")
    return timestamp.strip(), signature.strip()


def verify_signature(
    secret: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window_seconds: int,
) -> None:
    """Return if the signature is valid and fresh; raise `SignatureError` otherwise."""
    timestamp, signature = require_fresh(
        timestamp, signature, now=now, window_seconds=window_seconds
    )
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise SignatureError("signature mismatch")


def normalise_recipients(recipients: Iterable[str]) -> list[str]:
    """Envelope recipients lower-cased, stripped, without repeats, sorted."""
    return sorted({r.strip().lower() for r in recipients if r.strip()})


@dataclass(frozen=True)
class DedupeKey:
    """Identity of one delivery of one message to one set of envelope recipients."""

    sha256: str
    recipients: tuple[str, ...]

    @classmethod
    def of(cls, sha256: str, recipients: Iterable[str]) -> DedupeKey:
        return cls(sha256, tuple(normalise_recipients(recipients)))

    def __str__(self) -> str:
        recipients = hashlib.sha256("\n".join(self.recipients).encode()).hexdigest()
        return f"{self.sha256}:{recipients}"

    @property
    def event_id(self) -> uuid.UUID:
        """The mail.received event id: the same for every retry of this delivery."""
        return uuid.uuid5(RECEIVED_EVENT_NAMESPACE, str(self))
