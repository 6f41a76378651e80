"""The admin SLA policies API: create with the CLI's rules, list, update, delete guarded by
clocks; admins only, another tenant's ids 404, writes audited. Real PostgreSQL.

`world` (conftest) is this module's own: tenant A with mailboxes support, sales and bulk,
tenant B with b_support.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, SlaTimer
from postdesk_testing.problems import problem_detail
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
HOURS = {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]]}


def body(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def create(client: httpx.AsyncClient, auth: Auth, *, status: int = 201, **fields: Any) -> Any:
    payload = {"name": f"SLA {uuid.uuid4().hex[:6]}", "first_response_minutes": 60} | fields
    response = await client.post("/admin/sla-policies", json=payload, headers=auth("admin"))
    return body(response, status) if status < 400 else problem_detail(response, status)


async def test_life_of_a_policy(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Create (holidays sorted and once), list, update, deactivate, delete; all audited."""
    support = str(world.accounts["support"].id)
    policy = await create(
        client,
        auth,
        account_id=support,
        priority="urgent",
        business_hours=True,
        timezone="Europe/Berlin",
        working_hours=HOURS,
        holidays=["2026-12-25", "2026-01-01", "2026-12-25"],
    )
    assert policy["holidays"] == ["2026-01-01", "2026-12-25"]
    listed = body(await client.get("/admin/sla-policies", headers=auth("admin")), 200)
    assert policy["id"] in {item["id"] for item in listed["items"]}
    url = f"/admin/sla-policies/{policy['id']}"
    changed = body(
        await client.patch(
            url, json={"resolution_minutes": 480, "warning_percent": 50}, headers=auth("admin")
        ),
        200,
    )
    assert (changed["resolution_minutes"], changed["warning_percent"]) == (480, 50)
    assert (
        body(await client.patch(url, json={"is_active": False}, headers=auth("admin")), 200)[
            "is_active"
        ]
        is False
    )
    assert (await client.delete(url, headers=auth("admin"))).status_code == 204
    problem_detail(await client.get(url, headers=auth("admin")), 404)
    async with sessions() as session:
        trail = (
            await session.scalars(
                select(col(AuditLog.action))
                .where(col(AuditLog.object_id) == policy["id"])
                .order_by(col(AuditLog.created_at), col(AuditLog.id))
            )
        ).all()
    assert list(trail) == [
        "sla_policy.created",
        "sla_policy.updated",
        "sla_policy.updated",
        "sla_policy.deleted",
    ]


async def test_rules(client: httpx.AsyncClient, auth: Auth, world: Any) -> None:
    """No target, hours on a calendar-time policy, a business-hours policy without hours, a
    department other than the account's: 422. Out-of-range values and unknown fields: 400.
    A second active policy of one scope: 409. Another tenant's account: 404."""
    await create(client, auth, first_response_minutes=None, status=422)
    await create(client, auth, working_hours=HOURS, status=422)
    await create(client, auth, timezone="Europe/Berlin", status=422)
    await create(client, auth, business_hours=True, status=422)
    await create(client, auth, business_hours=True, working_hours={"mon": [["9", "5"]]}, status=422)
    department = body(
        await client.post(
            "/admin/departments", json={"name": f"D {world.suffix}"}, headers=auth("admin")
        ),
        201,
    )
    await create(
        client,
        auth,
        account_id=str(world.accounts["sales"].id),
        department_id=department["id"],
        status=422,
    )
    await create(client, auth, warning_percent=0, status=400)
    await create(client, auth, first_response_minutes=600_000, status=400)
    await create(client, auth, priority="critical", status=400)
    await create(client, auth, tenant_id=str(world.tenant_b), status=400)
    await create(client, auth, holidays=["25.12.2026"], status=400)
    await create(client, auth, account_id=str(world.accounts["b_support"].id), status=404)
    scope: dict[str, Any] = {"account_id": str(world.accounts["bulk"].id), "priority": "high"}
    first = await create(client, auth, **scope)
    await create(client, auth, **scope, status=409)
    body(
        await client.patch(
            f"/admin/sla-policies/{first['id']}", json={"is_active": False}, headers=auth("admin")
        ),
        200,
    )
    await create(client, auth, **scope)
    problem_detail(
        await client.patch(
            f"/admin/sla-policies/{first['id']}", json={"is_active": True}, headers=auth("admin")
        ),
        409,
    )
    problem_detail(
        await client.patch(
            f"/admin/sla-policies/{first['id']}",
            json={"first_response_minutes": None},
            headers=auth("admin"),
        ),
        422,
    )


async def test_delete_refused_while_clocks_refer_to_it(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """A policy some ticket has a clock of is kept (409)."""
    policy = await create(client, auth, account_id=str(world.accounts["sales"].id))
    async with sessions() as session, session.begin():
        session.add(
            SlaTimer(
                tenant_id=world.tenant_a,
                ticket_id=world.tickets["sales_1"].id,
                policy_id=uuid.UUID(policy["id"]),
                target="first_response",
                due_at=world.tickets["sales_1"].last_message_at,
                warn_at=world.tickets["sales_1"].last_message_at,
            )
        )
    url = f"/admin/sla-policies/{policy['id']}"
    problem_detail(await client.delete(url, headers=auth("admin")), 409)
    body(await client.get(url, headers=auth("admin")), 200)


async def test_members_refused_and_tenants_apart(client: httpx.AsyncClient, auth: Auth) -> None:
    """Members get 403; B's admin gets 404 for A's policy and does not list it."""
    policy = await create(client, auth, priority="low")
    url = f"/admin/sla-policies/{policy['id']}"
    for role in ("primary", "viewer"):
        problem_detail(await client.get("/admin/sla-policies", headers=auth(role)), 403)
        problem_detail(await client.get(url, headers=auth(role)), 403)
        problem_detail(
            await client.post(
                "/admin/sla-policies",
                json={"name": "x", "first_response_minutes": 5},
                headers=auth(role),
            ),
            403,
        )
        problem_detail(await client.patch(url, json={"name": "x"}, headers=auth(role)), 403)
        problem_detail(await client.delete(url, headers=auth(role)), 403)
    problem_detail(await client.get(url, headers=auth("admin_b")), 404)
    problem_detail(await client.patch(url, json={"name": "mine"}, headers=auth("admin_b")), 404)
    problem_detail(await client.delete(url, headers=auth("admin_b")), 404)
    listed = body(await client.get("/admin/sla-policies", headers=auth("admin_b")), 200)
    assert policy["id"] not in {item["id"] for item in listed["items"]}
