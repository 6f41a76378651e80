"""Every error leaves the gateway as one problem-details shape (RFC 9457).

`{type, title, status, detail}` with media type application/problem+json;
request validation errors add `errors` (field and message, never the input).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from postdesk_contracts.api import Problem
from sqlalchemy.exc import DBAPIError

from postdesk_gateway.domain import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    GatewayError,
    IdempotencyKeyReusedError,
    InvalidCursorError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    QuotaExceededError,
    UnprocessableError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# serialization_failure and deadlock_detected: PostgreSQL rolled this transaction back.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
QUERY_CANCELED = "57014"  # statement_timeout
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="postdesk"'}
_STATUS_OF: dict[type[GatewayError], int] = {
    AuthenticationError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    InvalidCursorError: 400,
    InvalidRequestError: 400,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    IdempotencyKeyReusedError: 422,
    UnprocessableError: 422,
    QuotaExceededError: 429,
}

log = structlog.get_logger(__name__)


def problem_response(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> Response[dict[str, Any]]:
    problem = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return Response(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]] | None:
    if not isinstance(exc.extra, list):
        return None
    return [
        {k: item[k] for k in ("key", "source", "message") if k in item}
        for item in exc.extra
        if isinstance(item, dict)
    ]


def _http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    errors = _validation_errors(exc) if isinstance(exc, ValidationException) else None
    return problem_response(exc.status_code, exc.detail, headers=exc.headers, errors=errors)


def _gateway_error(request: Request[Any, Any, Any], exc: GatewayError) -> Response[dict[str, Any]]:
    status = next(code for cls, code in _STATUS_OF.items() if isinstance(exc, cls))
    headers = BEARER_CHALLENGE if status == 401 else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return problem_response(status, str(exc), headers=headers)


def _database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate == QUERY_CANCELED:
        log.warning("statement timed out", path=request.url.path, method=request.method)
        return problem_response(
            503,
            "the request took too long; narrow it (mailbox, status, dates, more specific words)",
            headers={"Retry-After": "5"},
        )
    if sqlstate in RETRYABLE_SQLSTATES:
        log.info("concurrent change refused", path=request.url.path, method=request.method)
        return problem_response(
            409, "a concurrent change got there first; retry", headers={"Retry-After": "1"}
        )
    return _unexpected(request, exc)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return problem_response(500, "internal server error")


def exception_handlers() -> ExceptionHandlersMap:
    return {
        GatewayError: _gateway_error,
        HTTPException: _http_exception,
        DBAPIError: _database_error,
        Exception: _unexpected,
    }


__all__ = ["BEARER_CHALLENGE", "PROBLEM_MEDIA_TYPE", "exception_handlers", "problem_response"]
