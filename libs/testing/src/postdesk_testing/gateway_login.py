"""Logging in to the gateway from tests: the bearer header and the login calls."""

from __future__ import annotations

from typing import Any

import httpx

PASSWORD = "correct horse battery staple"  # noqa: S105  # the test users' password


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/auth/login", json={"email": email, "password": password})


async def session_of(
    http: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    """A new login session's token pair; the login must succeed."""
    response = await login(http, email, password)
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair
