"""The problem-details answers of errors.py for failures the database reports."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar, get
from postdesk_gateway.errors import exception_handlers
from sqlalchemy.exc import DBAPIError


class PostgresError(Exception):
    """What the asyncpg adapter puts in DBAPIError.orig: an error carrying the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def app_failing_with(sqlstate: str) -> Litestar:
    @get("/fail", sync_to_thread=False)
    def fail() -> None:
        raise DBAPIError("UPDATE tickets ...", None, PostgresError(sqlstate))

    return Litestar([fail], exception_handlers=exception_handlers())


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_a_deadlock_or_serialization_failure_is_a_409_to_retry(sqlstate: str) -> None:
    transport = httpx.ASGITransport(app=app_failing_with(sqlstate))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get("/fail")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "a concurrent change got there first; retry"


async def test_any_other_database_error_is_a_500_that_says_nothing_of_the_statement() -> None:
    transport = httpx.ASGITransport(app=app_failing_with("23505"))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get("/fail")
    assert response.status_code == 500
    assert "UPDATE" not in response.text
    assert response.json()["detail"] == "internal server error"


async def test_a_statement_timeout_is_a_503_asking_to_narrow_the_request() -> None:
    transport = httpx.ASGITransport(app=app_failing_with("57014"))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get("/fail")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"].startswith("the request took too long; narrow it")
