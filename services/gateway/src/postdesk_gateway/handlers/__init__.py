"""HTTP handlers grouped by domain; each handler delegates to one use case.

Every route needs a bearer token unless it opts out with `opt=PUBLIC`
(login and the health probes); protected controllers declare `SECURED`
so the OpenAPI document says so, and `problems(...)` documents their error
responses in the one problem-details shape they really have.
"""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec
from postdesk_contracts.api import Problem

from postdesk_gateway.errors import PROBLEM_MEDIA_TYPE

BEARER_SCHEME = "BearerToken"
SECURED: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]

_PROBLEMS = {
    400: "the request is malformed (details in `errors`)",
    401: "missing, invalid or expired credentials",
    403: "visible, but you lack the right for this action",
    404: "no such resource visible to you",
    409: "too late (or too early: then `Retry-After` says when to try again)",
    413: "too large: an upload, or the attachments of one mail together",
    422: "well-formed, but refused as it stands (`detail` says why): an Idempotency-Key "
    "used before for a different request, a mention that cannot be notified, ...",
    429: "a quota is full (sending, or failed logins from your address): `detail` says "
    "which, `Retry-After` when it frees",
    503: "the request took too long (a broad search): narrow it, or retry after `Retry-After`",
}


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the given error statuses, all `Problem`s."""
    return {
        code: ResponseSpec(
            Problem,
            description=_PROBLEMS[code],
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for code in codes
    }
