"""Assertions on the gateway's error answers: RFC 9457 problem documents."""

from __future__ import annotations

from typing import Any

import httpx


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of an error answer with `status`, after checking its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status
    return body


def problem_detail(response: httpx.Response, status: int) -> str:
    """The `detail` of an error answer with `status`."""
    return str(assert_problem(response, status)["detail"])
