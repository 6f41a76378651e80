"""HTTP routes of ingest: the raw-mail webhook, health and readiness, and their error answers."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import structlog
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import FromQuery, HeaderParameter, RawBody
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import (
    HTTP_202_ACCEPTED,
    HTTP_401_UNAUTHORIZED,
    HTTP_406_NOT_ACCEPTABLE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap
from postdesk_runtime.health import Check, run_checks
from postdesk_runtime.metrics import CONTENT_TYPE_LATEST, metrics
from pydantic import SecretStr

from postdesk_ingest.admission import RecipientsRejectedError, admit_raw_mail
from postdesk_ingest.domain import SignatureError, verify_signature
from postdesk_ingest.providers import PROVIDER_ROUTES, too_many_requests
from postdesk_ingest.ratelimit import RateLimitedError, RateLimiter
from postdesk_ingest.recipients import RecipientDirectory
from postdesk_ingest.service import Ports, UnavailableError

log = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = "5"


@dataclass(frozen=True)
class Webhook:
    """How webhook requests are authenticated."""

    secret: SecretStr
    replay_window_seconds: int


@dataclass(frozen=True)
class WebhookAccepted:
    """The answer to an accepted post: "duplicate" when it was already accepted before."""

    status: Literal["accepted", "duplicate"]
    event_id: uuid.UUID
    raw_blob_ref: str


async def check_raw_source(request: Request[Any, Any, Any]) -> None:
    """Before the body is read or the signature checked: the client's rate (429).

    Async so that it runs on the event loop: the limiter is not thread-safe.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check_source(f"raw:{_client(request)}")


@post(
    "/webhooks/raw",
    status_code=HTTP_202_ACCEPTED,
    summary="Accept one raw RFC 5322 message",
    description="Signed with X-Postdesk-Timestamp and X-Postdesk-Signature. 202 only once the "
    "message is stored and mail.received is confirmed by the broker; 503 means retry later; "
    "429 (Retry-After) when the client or the recipients' tenant is over its rate.",
    before_request=check_raw_source,
)
async def receive_raw(
    body: RawBody,
    ports: NamedDependency[Ports],
    webhook: NamedDependency[Webhook],
    directory: NamedDependency[RecipientDirectory],
    limiter: NamedDependency[RateLimiter],
    rcpt: FromQuery[list[str] | None] = None,
    timestamp: Annotated[str | None, HeaderParameter(name="X-Postdesk-Timestamp")] = None,
    signature: Annotated[str | None, HeaderParameter(name="X-Postdesk-Signature")] = None,
) -> WebhookAccepted:
    secret = webhook.secret.get_secret_value().encode()
    verify_signature(
        secret,
        timestamp=timestamp,
        signature=signature,
        body=body,
        now=time.time(),
        window_seconds=webhook.replay_window_seconds,
    )
    if not body:
        raise ClientException("empty message")
    accepted = await admit_raw_mail(body, rcpt or [], ports, directory, limiter=limiter)
    return WebhookAccepted(accepted.status, accepted.event_id, accepted.raw_blob_ref)


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(checks: NamedDependency[dict[str, Check]]) -> Response[dict[str, Any]]:
    ready, results = await run_checks(checks)
    return Response(
        {"status": "ready" if ready else "not ready", "checks": results},
        status_code=200 if ready else HTTP_503_SERVICE_UNAVAILABLE,
    )


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics_endpoint() -> Response[bytes]:
    """Prometheus text format (mail.received published, by event type)."""
    return Response(metrics().exposition(), media_type=CONTENT_TYPE_LATEST)


def unauthorized(request: Request[Any, Any, Any], error: SignatureError) -> Response[Any]:
    log.warning("webhook signature rejected", reason=error.reason, client=_client(request))
    return ProblemDetailsException(
        status_code=HTTP_401_UNAUTHORIZED,
        title="Unauthorized",
        detail="missing, stale or wrong webhook signature",
    ).to_response(request)


def unavailable(request: Request[Any, Any, Any], error: UnavailableError) -> Response[Any]:
    return ProblemDetailsException(
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        title="Service Unavailable",
        detail=f"the {error.dependency} is unavailable; the message was not accepted, retry later",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    ).to_response(request)


def recipients_rejected(
    request: Request[Any, Any, Any], error: RecipientsRejectedError
) -> Response[Any]:
    # Mailgun retries every other non-2xx answer; 406 is its documented "rejected, do not retry".
    mailgun = request.url.path.startswith("/webhooks/mailgun")
    return ProblemDetailsException(
        status_code=HTTP_406_NOT_ACCEPTABLE if mailgun else HTTP_422_UNPROCESSABLE_ENTITY,
        title="Unknown recipients",
        detail=f"{error.reason}; the message is recorded as rejected, do not retry",
        extra={"unknown_recipients": error.unknown, "raw_blob_ref": error.raw_blob_ref},
    ).to_response(request)


def internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    log.error("unhandled error", path=request.url.path, exc_info=error)
    return ProblemDetailsException(
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        title="Internal Server Error",
        detail="the message was not accepted, retry later",
    ).to_response(request)


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


ROUTES = [receive_raw, healthz, readyz, metrics_endpoint, *PROVIDER_ROUTES]
EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    SignatureError: unauthorized,
    UnavailableError: unavailable,
    RateLimitedError: too_many_requests,
    RecipientsRejectedError: recipients_rejected,
    Exception: internal_error,
}
