"""What every provider route shares: its configuration, authentication helpers, the accept step.

Order on every provider route, so that nothing unauthenticated is read far
or stored: disabled -> 404; source over its rate -> 429; body too large ->
413; bad credentials or signature -> 401 (logged as a warning, nothing
stored); malformed payload -> 400; message too large -> 413; then
`admit_raw_mail` with the recipient directory, as on /webhooks/raw: tenant
over its rate -> 429; only unknown recipients -> 422 (raw blob kept, log row
"rejected", nothing published); else 202 with the tenant set, or 503 to retry.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Request, Response
from litestar.exceptions import ClientException, NotFoundException
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE, HTTP_429_TOO_MANY_REQUESTS
from postdesk_contracts.events import Channel

from postdesk_ingest.admission import admit_raw_mail
from postdesk_ingest.domain import SignatureError
from postdesk_ingest.providers.replay import TokenLedger
from postdesk_ingest.providers.settings import ProviderSettings
from postdesk_ingest.ratelimit import RateLimitedError, RateLimiter
from postdesk_ingest.recipients import RecipientDirectory
from postdesk_ingest.service import Accepted, Ports

T = TypeVar("T")


@dataclass(frozen=True)
class Providers:
    """The provider routes' configuration and in-memory state, built once in `create_app`."""

    settings: ProviderSettings
    limiter: RateLimiter
    max_message_bytes: int
    replay_window_seconds: int
    mailgun_tokens: TokenLedger
    sendgrid_key: ec.EllipticCurvePublicKey | None = None


def require(secret: T | None, provider: str) -> T:
    """A provider without a configured secret has no route (404), rather than an open one."""
    if not secret:
        raise NotFoundException(f"the {provider} webhook is not configured")
    return secret


def client_of(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def check_source(request: Request[Any, Any, Any], providers: Providers, provider: str) -> None:
    """Take a token of the source's bucket (provider and client address) or raise 429."""
    providers.limiter.check_source(f"{provider}:{client_of(request)}")


async def read_body(request: Request[Any, Any, Any], providers: Providers, provider: str) -> bytes:
    """The body, once the source is within its rate (the app caps its size: 413)."""
    check_source(request, providers, provider)
    return await request.body()


def check_basic_auth(
    authorization: str | None, username: str, password: str, provider: str
) -> None:
    """HTTP Basic credentials equal to the configured ones, compared in constant time."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise SignatureError(f"{provider}: missing basic credentials")
    try:
        given_user, sep, given_password = base64.b64decode(encoded, validate=True).partition(b":")
    except (binascii.Error, ValueError):
        raise SignatureError(f"{provider}: malformed basic credentials") from None
    user_ok = hmac.compare_digest(given_user, username.encode())
    password_ok = hmac.compare_digest(given_password, password.encode())
    if not (sep and user_ok and password_ok):
        raise SignatureError(f"{provider}: wrong basic credentials")


async def deliver(
    raw: bytes,
    recipients: Sequence[str],
    ports: Ports,
    providers: Providers,
    provider: str,
    directory: RecipientDirectory,
) -> Accepted:
    """Size cap (413), then recipients and tenant rate checked (422, 429) and the mail accepted."""
    if not raw.strip():
        raise ClientException(f"{provider}: the payload holds no message")
    if len(raw) > providers.max_message_bytes:
        raise ProblemDetailsException(
            status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            title="Request Entity Too Large",
            detail=f"the message is larger than {providers.max_message_bytes} bytes",
        )
    return await admit_raw_mail(
        raw,
        recipients,
        ports,
        directory,
        channel=Channel.WEBHOOK,
        source=provider,
        limiter=providers.limiter,
    )


def too_many_requests(request: Request[Any, Any, Any], error: RateLimitedError) -> Response[Any]:
    """429 with Retry-After and a problem body."""
    return ProblemDetailsException(
        status_code=HTTP_429_TOO_MANY_REQUESTS,
        title="Too Many Requests",
        detail=f"{error.scope} rate limit exceeded; retry in {error.retry_after} s",
        headers={"Retry-After": str(error.retry_after)},
    ).to_response(request)
