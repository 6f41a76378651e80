"""Cloudflare Email Worker forwarding the raw message: POST /webhooks/cloudflare.

The Worker posts `message.raw` with the envelope recipient as `?rcpt=` and
signs it exactly like /webhooks/raw (X-Postdesk-Timestamp and
X-Postdesk-Signature: sha256=HMAC-SHA256(secret, "<timestamp>." + body)),
with its own secret, INGEST_CLOUDFLARE_SECRET. The Worker script is in
docs/ingest-webhooks.md.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_202_ACCEPTED

from postdesk_ingest.domain import SignatureError, verify_signature
from postdesk_ingest.providers.common import Providers, deliver, read_body, require
from postdesk_ingest.recipients import RecipientDirectory
from postdesk_ingest.service import Accepted, Ports

PROVIDER = "cloudflare"


@post(
    "/webhooks/cloudflare",
    status_code=HTTP_202_ACCEPTED,
    summary="Accept a raw message from a Cloudflare Email Worker",
    description="Signed like /webhooks/raw with INGEST_CLOUDFLARE_SECRET; 404 unless it is set.",
)
async def receive_cloudflare(
    request: Request[Any, Any, Any],
    ports: NamedDependency[Ports],
    providers: NamedDependency[Providers],
    directory: NamedDependency[RecipientDirectory],
) -> Accepted:
    secret = require(providers.settings.cloudflare_secret, PROVIDER)
    body = await read_body(request, providers, PROVIDER)
    try:
        verify_signature(
            secret.get_secret_value().encode(),
            timestamp=request.headers.get("x-postdesk-timestamp"),
            signature=request.headers.get("x-postdesk-signature"),
            body=body,
            now=time.time(),
            window_seconds=providers.replay_window_seconds,
        )
    except SignatureError as error:
        raise SignatureError(f"cloudflare: {error.reason}") from None
    return await deliver(
        body, request.query_params.getall("rcpt", []), ports, providers, PROVIDER, directory
    )
