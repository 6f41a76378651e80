"""SendGrid Inbound Parse in raw mode ("POST the raw, full MIME message"): POST /webhooks/sendgrid.

SendGrid posts multipart/form-data with the raw message in `email` and the
SMTP envelope as JSON in `envelope` ({"to": [...], "from": "..."}).

Authentication, whichever is configured (both must hold when both are):
- signature (Inbound Parse security policy with signature verification):
  an ECDSA P-256 / SHA-256 signature, base64 DER, in
  X-Twilio-Email-Event-Webhook-Signature, over the bytes of
  X-Twilio-Email-Event-Webhook-Timestamp followed by the raw request body,
  checked with the policy's public key (INGEST_SENDGRID_PUBLIC_KEY, base64
  DER as SendGrid shows it, or PEM); the timestamp must be in the replay
  window;
- HTTP Basic credentials in the Parse URL (INGEST_SENDGRID_USERNAME/PASSWORD).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.status_codes import HTTP_202_ACCEPTED

from postdesk_ingest.domain import SignatureError, require_fresh
from postdesk_ingest.providers.common import (
    Providers,
    check_basic_auth,
    check_source,
    deliver,
    require,
)
from postdesk_ingest.providers.forms import FormError, first, parse_form
from postdesk_ingest.recipients import RecipientDirectory
from postdesk_ingest.service import Accepted, Ports

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER) or as PEM; must be P-256."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as error:
        raise ValueError(f"INGEST_SENDGRID_PUBLIC_KEY is not a public key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("INGEST_SENDGRID_PUBLIC_KEY must be an ECDSA P-256 public key")
    return key


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window_seconds: int,
) -> None:
    """Return if the signature over timestamp + body is valid and fresh; else `SignatureError`."""
    timestamp, signature = require_fresh(
        timestamp, signature, now=now, window_seconds=window_seconds, label="sendgrid"
    )
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureError("sendgrid: signature mismatch") from None


def envelope_recipients(envelope: bytes | None) -> list[str]:
    """The `to` addresses of the `envelope` field."""
    if not envelope:
        return []
    try:
        parsed = json.loads(envelope)
    except ValueError:
        raise ClientException("sendgrid: the envelope field is not JSON") from None
    to = parsed.get("to") if isinstance(parsed, dict) else None
    if isinstance(to, str):
        to = [to]
    return [str(address) for address in to or [] if str(address).strip()]


@post(
    "/webhooks/sendgrid",
    status_code=HTTP_202_ACCEPTED,
    summary="Accept a message from SendGrid Inbound Parse (raw mode)",
    description="Verified by the Parse security policy's ECDSA signature and/or HTTP Basic "
    "credentials. 404 unless INGEST_SENDGRID_PUBLIC_KEY or INGEST_SENDGRID_PASSWORD is set.",
)
async def receive_sendgrid(
    request: Request[Any, Any, Any],
    ports: NamedDependency[Ports],
    providers: NamedDependency[Providers],
    directory: NamedDependency[RecipientDirectory],
) -> Accepted:
    settings = providers.settings
    require(providers.sendgrid_key or settings.sendgrid_password, PROVIDER)
    check_source(request, providers, PROVIDER)
    if settings.sendgrid_username is not None and settings.sendgrid_password is not None:
        check_basic_auth(
            request.headers.get("authorization"),
            settings.sendgrid_username,
            settings.sendgrid_password.get_secret_value(),
            PROVIDER,
        )
    body = await request.body()
    if providers.sendgrid_key is not None:
        verify_sendgrid(
            providers.sendgrid_key,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            body=body,
            now=time.time(),
            window_seconds=providers.replay_window_seconds,
        )
    try:
        form = parse_form(request.headers.get("content-type", ""), body)
    except FormError as error:
        raise ClientException(f"sendgrid: {error}") from None
    raw = first(form, "email")
    if raw is None:
        raise ClientException(
            "sendgrid: no 'email' field; enable 'POST the raw, full MIME message'"
        )
    return await deliver(
        raw, envelope_recipients(first(form, "envelope")), ports, providers, PROVIDER, directory
    )
