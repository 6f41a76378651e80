"""Calls on the gateway's HTTP API that the security tests share."""

from __future__ import annotations

import httpx
from postdesk_testing.gateway_login import bearer

NEW_PASSWORD = "purple monkey dishwasher 42"
JWT_SECRET = "security-suite-" + "s" * 32


async def me_status(http: httpx.AsyncClient, access_token: str) -> int:
    return (await http.get("/me", headers=bearer(access_token))).status_code


async def refresh_status(http: httpx.AsyncClient, refresh_token: str) -> int:
    return (await http.post("/auth/refresh", json={"refresh_token": refresh_token})).status_code
