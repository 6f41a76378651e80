"""The admin mailboxes API: list with statistics, create (shared and personal), update,
deactivate; admins only, another tenant's mailboxes 404, every write audited. Real
PostgreSQL.

`world` (conftest) is this module's own: tenant A with mailboxes support, sales and bulk,
tenant B with b_support.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, EmailAccount, EmailAssignment, Ticket
from postdesk_testing.problems import problem_detail
from sqlalchemy import func, update
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]


def body(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def address() -> str:
    return f"Box-{uuid.uuid4().hex[:8]}@Acme.test"


async def test_list_has_statistics_from_the_tickets(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Open tickets, tickets of the last 7 days and the average first response of the last
    30 days, per mailbox; a deleted ticket is not counted; B's mailboxes are not listed."""
    support = world.tickets["support_1"].id, world.tickets["support_2"].id
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Ticket)
            .where(col(Ticket.id) == support[0])
            .values(created_at=now - timedelta(days=2), response_minutes=10)
        )
        await session.execute(
            update(Ticket)
            .where(col(Ticket.id) == support[1])
            .values(created_at=now - timedelta(days=10), response_minutes=31, status="resolved")
        )
        await session.execute(
            update(Ticket)
            .where(col(Ticket.id) == world.tickets["sales_1"].id)
            .values(deleted_at=now)
        )
    listed = body(await client.get("/admin/accounts", headers=auth("admin")), 200)
    by_id = {item["id"]: item for item in listed["items"]}
    assert set(by_id) == {str(world.accounts[n].id) for n in ("support", "sales", "bulk")}
    assert by_id[str(world.accounts["support"].id)]["stats"] == {
        "open_tickets": 1,
        "tickets_this_week": 1,
        "avg_first_response_minutes": 20.5,
    }
    assert by_id[str(world.accounts["sales"].id)]["stats"]["open_tickets"] == 0
    bulk = by_id[str(world.accounts["bulk"].id)]["stats"]
    async with sessions() as session:
        bulk_open = await session.scalar(
            select(func.count()).where(
                col(Ticket.account_id) == world.accounts["bulk"].id, col(Ticket.status) == "open"
            )
        )
    assert bulk["open_tickets"] == bulk_open
    one = body(
        await client.get(f"/admin/accounts/{world.accounts['support'].id}", headers=auth("admin")),
        200,
    )
    assert one["stats"] == by_id[str(world.accounts["support"].id)]["stats"]


async def test_create_shared_and_personal(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """A shared mailbox has no owner; a personal one makes its owner primary; both audited."""
    shared = body(
        await client.post(
            "/admin/accounts",
            json={"address": address(), "display_name": "Billing", "auto_reply_enabled": True},
            headers=auth("admin"),
        ),
        201,
    )
    assert shared["address"] == shared["address"].lower()
    assert (shared["kind"], shared["owner_user_id"], shared["auto_reply_enabled"]) == (
        "shared",
        None,
        True,
    )
    owner = world.users["unassigned"].id
    personal = body(
        await client.post(
            "/admin/accounts",
            json={"address": address(), "kind": "personal", "owner_user_id": str(owner)},
            headers=auth("admin"),
        ),
        201,
    )
    async with sessions() as session:
        assignment = (
            await session.scalars(
                select(EmailAssignment).where(
                    col(EmailAssignment.account_id) == uuid.UUID(personal["id"])
                )
            )
        ).one()
        audited = set(
            (
                await session.scalars(
                    select(col(AuditLog.object_id)).where(col(AuditLog.action) == "account.created")
                )
            ).all()
        )
    assert (assignment.user_id, assignment.role) == (owner, "primary")
    assert {shared["id"], personal["id"]} <= audited


async def test_create_validation(client: httpx.AsyncClient, auth: Auth, world: Any) -> None:
    """A taken address is 409 (in any tenant); an owner of another tenant 404; rules that
    depend on the kind, and bad working hours, 422; unknown fields and values 400."""
    problem_detail(
        await client.post(
            "/admin/accounts",
            json={"address": world.accounts["b_support"].address.upper()},
            headers=auth("admin"),
        ),
        409,
    )
    b_owner = str(world.users["admin_b"].id)
    problem_detail(
        await client.post(
            "/admin/accounts",
            json={"address": address(), "kind": "personal", "owner_user_id": b_owner},
            headers=auth("admin"),
        ),
        404,
    )
    for fields in (
        {"kind": "personal"},
        {"owner_user_id": str(world.users["primary"].id)},
        {"working_hours": {"mon": [["09:00"]]}},
        {"timezone": "Nowhere/City"},
    ):
        problem_detail(
            await client.post(
                "/admin/accounts", json={"address": address(), **fields}, headers=auth("admin")
            ),
            422,
        )
    refused: list[dict[str, Any]] = [
        {"reopen_policy": "ignore"},
        {"auto_reply_schedule": "sometimes"},
        {"subject_match_days": 0},
        {"tenant_id": str(world.tenant_b)},
    ]
    for fields in refused:
        problem_detail(
            await client.post(
                "/admin/accounts", json={"address": address(), **fields}, headers=auth("admin")
            ),
            400,
        )


async def test_update_and_deactivate(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """PATCH changes what it names (null switches a setting off), deactivation keeps the
    mailbox; both are audited with old and new values."""
    created = body(
        await client.post(
            "/admin/accounts",
            json={"address": address(), "subject_match_days": 7},
            headers=auth("admin"),
        ),
        201,
    )
    url = f"/admin/accounts/{created['id']}"
    changed = body(
        await client.patch(
            url,
            json={
                "subject_match_days": None,
                "working_hours": {"mon": [["08:00", "12:00"]]},
                "timezone": "Europe/Paris",
                "reopen_policy": "follow_up",
            },
            headers=auth("admin"),
        ),
        200,
    )
    assert (changed["subject_match_days"], changed["reopen_policy"]) == (None, "follow_up")
    problem_detail(
        await client.patch(url, json={"timezone": "Bad/Zone"}, headers=auth("admin")), 422
    )
    problem_detail(await client.patch(url, json={"signature": None}, headers=auth("admin")), 422)
    problem_detail(
        await client.patch(url, json={"address": "x@y.test"}, headers=auth("admin")), 400
    )
    assert (
        body(await client.post(f"{url}/deactivate", headers=auth("admin")), 200)["is_active"]
        is False
    )
    async with sessions() as session:
        stored = await session.get(EmailAccount, uuid.UUID(created["id"]))
        rows = {
            row.action: row.detail
            for row in await session.scalars(
                select(AuditLog).where(col(AuditLog.object_id) == created["id"])
            )
        }
    assert stored is not None
    assert not stored.is_active
    assert rows["account.updated"]["old"]["subject_match_days"] == 7
    assert rows["account.updated"]["new"]["timezone"] == "Europe/Paris"
    assert rows["account.deactivated"] == {"old": {"is_active": True}, "new": {"is_active": False}}


async def test_members_refused_and_tenants_apart(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Members (even the mailbox's primary) get 403; B's admin gets 404 for A's mailbox and
    changes nothing."""
    support = world.accounts["support"].id
    url = f"/admin/accounts/{support}"
    for role in ("primary", "viewer"):
        problem_detail(await client.get("/admin/accounts", headers=auth(role)), 403)
        problem_detail(await client.get(url, headers=auth(role)), 403)
        problem_detail(
            await client.post("/admin/accounts", json={"address": address()}, headers=auth(role)),
            403,
        )
        problem_detail(await client.patch(url, json={"display_name": "x"}, headers=auth(role)), 403)
        problem_detail(await client.post(f"{url}/deactivate", headers=auth(role)), 403)
    problem_detail(await client.get(url, headers=auth("admin_b")), 404)
    problem_detail(
        await client.patch(url, json={"display_name": "mine"}, headers=auth("admin_b")), 404
    )
    problem_detail(await client.post(f"{url}/deactivate", headers=auth("admin_b")), 404)
    problem_detail(await client.get(f"{url}/assignments", headers=auth("admin_b")), 404)
    async with sessions() as session:
        stored = await session.get(EmailAccount, support)
    assert stored is not None
    assert stored.is_active
    assert stored.display_name == ""
