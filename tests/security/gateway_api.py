"""Calls on the gateway's HTTP API that the security tests share."""

from __future__ import annotations

from typing import Any

import httpx

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "purple monkey dishwasher 42"
JWT_SECRET = "security-suite-" + "s" * 32


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/auth/login", json={"email": email, "password": password})


async def session_of(http: httpx.AsyncClient, email: str) -> dict[str, Any]:
    """A new login session's token pair; the login must succeed."""
    response = await login(http, email)
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def me_status(http: httpx.AsyncClient, access_token: str) -> int:
    return (await http.get("/me", headers=bearer(access_token))).status_code


async def refresh_status(http: httpx.AsyncClient, refresh_token: str) -> int:
    return (await http.post("/auth/refresh", json={"refresh_token": refresh_token})).status_code
