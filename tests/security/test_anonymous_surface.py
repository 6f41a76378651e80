"""What a caller without a token can reach: every operation of the OpenAPI document,
called anonymously, is a 401 bearer challenge, except the few that are public on purpose.

The operations are read from the app's own document, so a new route joins the sweep by
itself; a route made public by mistake fails it until it is added to `PUBLIC` here.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

PUBLIC = {
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}
METHODS = ("get", "post", "put", "patch", "delete")
MIN_OPERATIONS = 50  # the document is read right: the gateway has well over this many
FAKE_TOKENS = ("", "Bearer", "Bearer null", "Bearer pdk_not-a-token", "Basic YWRtaW46YWRtaW4=")


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def concrete(path: str) -> str:
    """The path with every parameter filled with a random id."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


async def test_every_operation_but_the_public_ones_needs_a_token(
    client: httpx.AsyncClient,
) -> None:
    """No credentials, an empty or fake bearer, or Basic credentials: 401 with a challenge."""
    document = (await client.get("/schema/openapi.json")).json()
    found = operations(document)
    assert len(found) >= MIN_OPERATIONS
    for method, path in found:
        if (method, path) in PUBLIC:
            continue
        for fake in FAKE_TOKENS:
            headers = {"Authorization": fake} if fake else {}
            body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
            response = await client.request(method, concrete(path), headers=headers, json=body)
            assert response.status_code == 401, (method, path, fake, response.status_code)
            assert response.headers["www-authenticate"].startswith("Bearer")
