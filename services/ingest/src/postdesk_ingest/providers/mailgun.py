"""Mailgun routes ("store and notify" or "forward" to a URL ending in mime): POST /webhooks/mailgun.

Mailgun posts a form (multipart/form-data or urlencoded) with the raw
message in `body-mime`, the envelope recipient in `recipient`, and its
signature in `timestamp`, `token` and `signature`, where signature is the
hex HMAC-SHA256 of timestamp + token (no separator) under the account's
HTTP webhook signing key. The signature does not cover the message, so a
request is refused when its timestamp is outside the replay window or its
token was already used (`TokenLedger`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.status_codes import HTTP_202_ACCEPTED

from postdesk_ingest.domain import SignatureError
from postdesk_ingest.providers.common import Providers, deliver, read_body, require
from postdesk_ingest.providers.forms import Form, FormError, first, parse_form
from postdesk_ingest.recipients import RecipientDirectory
from postdesk_ingest.service import Accepted, Ports

PROVIDER = "mailgun"


def mailgun_signature(signing_key: bytes, timestamp: str, token: str) -> str:
    """The `signature` field Mailgun sends for `timestamp` and `token`."""
    return hmac.new(signing_key, (timestamp + token).encode(), hashlib.sha256).hexdigest()


def verify_mailgun(signing_key: bytes, form: Form, *, now: float, window_seconds: int) -> str:
    """Check the form's signature and freshness; return its token. Raises `SignatureError`."""
    fields = {
        name: (first(form, name) or b"").decode("ascii", "replace").strip()
        for name in ("timestamp", "token", "signature")
    }
    if not all(fields.values()):
        raise SignatureError("mailgun: missing timestamp, token or signature")
    try:
        sent_at = int(fields["timestamp"])
    except ValueError:
        raise SignatureError("mailgun: malformed timestamp") from None
    if abs(now - sent_at) > window_seconds:
        raise SignatureError("mailgun: timestamp outside the replay window")
    expected = mailgun_signature(signing_key, fields["timestamp"], fields["token"])
    if not hmac.compare_digest(expected.encode(), fields["signature"].lower().encode()):
        raise SignatureError("mailgun: signature mismatch")
    return fields["token"]


def recipients_of(form: Form) -> list[str]:
    """`recipient` (one address, or several separated by commas)."""
    value = (first(form, "recipient") or b"").decode("utf-8", "replace")
    return [r.strip() for r in value.split(",") if r.strip()]


@post(
    [
        "/webhooks/mailgun",
        "/webhooks/mailgun/mime",
    ],  # Mailgun posts body-mime to URLs ending in mime
    status_code=HTTP_202_ACCEPTED,
    summary="Accept a message from a Mailgun route (body-mime)",
    description="Signed by Mailgun (timestamp, token, signature). 404 unless "
    "INGEST_MAILGUN_SIGNING_KEY is set; 401 for a wrong, stale or reused signature.",
)
async def receive_mailgun(
    request: Request[Any, Any, Any],
    ports: NamedDependency[Ports],
    providers: NamedDependency[Providers],
    directory: NamedDependency[RecipientDirectory],
) -> Accepted:
    key = require(providers.settings.mailgun_signing_key, PROVIDER)
    body = await read_body(request, providers, PROVIDER)
    try:
        form = parse_form(request.headers.get("content-type", ""), body)
    except FormError as error:
        raise ClientException(f"mailgun: {error}") from None
    token = verify_mailgun(
        key.get_secret_value().encode(),
        form,
        now=time.time(),
        window_seconds=providers.replay_window_seconds,
    )
    if not providers.mailgun_tokens.claim(token):
        raise SignatureError("mailgun: token already used")
    try:
        raw = first(form, "body-mime")
        if raw is None:
            raise ClientException(
                "mailgun: no body-mime field; point the route at a URL ending in 'mime'"
            )
        return await deliver(raw, recipients_of(form), ports, providers, PROVIDER, directory)
    except BaseException:
        providers.mailgun_tokens.release(token)  # not accepted: Mailgun's retry may reuse it
        raise
