"""The admin departments API: create, list, update, delete with its guards; admins only,
another tenant's departments 404, every write audited. Real PostgreSQL.

`world` (conftest) is this module's own: tenant A with its admin and agents, tenant B with
its admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, Department
from postdesk_testing.problems import problem_detail
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]


def body(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def create(client: httpx.AsyncClient, auth: Auth, role: str = "admin", **fields: Any) -> Any:
    payload = {"name": f"Support {uuid.uuid4().hex[:8]}"} | fields
    return body(await client.post("/admin/departments", json=payload, headers=auth(role)), 201)


async def actions(sessions: Sessions, object_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(col(AuditLog.action))
            .where(col(AuditLog.object_id) == object_id)
            .order_by(col(AuditLog.created_at))
        )
        return list(rows.all())


async def test_create_list_update_delete_audited(
    client: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    """The whole life of a department, each write with its audit row."""
    created = await create(client, auth, routing_strategy="round_robin", description="EU")
    assert created["routing_strategy"] == "round_robin"
    listed = body(await client.get("/admin/departments", headers=auth("admin")), 200)
    assert created["id"] in {item["id"] for item in listed["items"]}
    changed = body(
        await client.patch(
            f"/admin/departments/{created['id']}",
            json={"routing_strategy": "least_open"},
            headers=auth("admin"),
        ),
        200,
    )
    assert (changed["routing_strategy"], changed["description"]) == ("least_open", "EU")
    gone = await client.delete(f"/admin/departments/{created['id']}", headers=auth("admin"))
    assert gone.status_code == 204, gone.text
    problem_detail(
        await client.get(f"/admin/departments/{created['id']}", headers=auth("admin")), 404
    )
    assert await actions(sessions, created["id"]) == [
        "department.created",
        "department.updated",
        "department.deleted",
    ]


async def test_validation(client: httpx.AsyncClient, auth: Auth) -> None:
    """Unknown strategies and fields are 400, a taken name 409, a null name 422."""
    problem_detail(
        await client.post(
            "/admin/departments",
            json={"name": "X", "routing_strategy": "random"},
            headers=auth("admin"),
        ),
        400,
    )
    problem_detail(
        await client.post(
            "/admin/departments",
            json={"name": "Y", "tenant_id": str(uuid.uuid4())},
            headers=auth("admin"),
        ),
        400,
    )
    first = await create(client, auth)
    problem_detail(
        await client.post(
            "/admin/departments", json={"name": first["name"]}, headers=auth("admin")
        ),
        409,
    )
    problem_detail(
        await client.patch(
            f"/admin/departments/{first['id']}", json={"name": None}, headers=auth("admin")
        ),
        422,
    )


async def test_delete_refused_while_referred_to(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """409 while a user or a mailbox belongs to it; the department stays."""
    department = await create(client, auth)
    body(
        await client.patch(
            f"/admin/users/{world.users['unassigned'].id}",
            json={"department_id": department["id"]},
            headers=auth("admin"),
        ),
        200,
    )
    url = f"/admin/departments/{department['id']}"
    assert "users" in problem_detail(await client.delete(url, headers=auth("admin")), 409)
    body(
        await client.patch(
            f"/admin/users/{world.users['unassigned'].id}",
            json={"department_id": None},
            headers=auth("admin"),
        ),
        200,
    )
    body(
        await client.patch(
            f"/admin/accounts/{world.accounts['sales'].id}",
            json={"department_id": department["id"]},
            headers=auth("admin"),
        ),
        200,
    )
    assert "email accounts" in problem_detail(await client.delete(url, headers=auth("admin")), 409)
    body(
        await client.patch(
            f"/admin/accounts/{world.accounts['sales'].id}",
            json={"department_id": None},
            headers=auth("admin"),
        ),
        200,
    )
    async with sessions() as session:
        assert await session.get(Department, uuid.UUID(department["id"])) is not None


async def test_members_refused_and_tenants_apart(
    client: httpx.AsyncClient, auth: Auth, sessions: Sessions
) -> None:
    """Members get 403; tenant B's admin neither sees nor touches A's department."""
    department = await create(client, auth)
    url = f"/admin/departments/{department['id']}"
    for role in ("primary", "viewer"):
        problem_detail(await client.get("/admin/departments", headers=auth(role)), 403)
        problem_detail(await client.get(url, headers=auth(role)), 403)
        problem_detail(
            await client.post("/admin/departments", json={"name": "Z"}, headers=auth(role)), 403
        )
        problem_detail(await client.patch(url, json={"name": "Z"}, headers=auth(role)), 403)
        problem_detail(await client.delete(url, headers=auth(role)), 403)
    problem_detail(await client.get(url, headers=auth("admin_b")), 404)
    problem_detail(await client.patch(url, json={"name": "Mine"}, headers=auth("admin_b")), 404)
    problem_detail(await client.delete(url, headers=auth("admin_b")), 404)
    listed = body(await client.get("/admin/departments", headers=auth("admin_b")), 200)
    assert department["id"] not in {item["id"] for item in listed["items"]}
    assert await actions(sessions, department["id"]) == ["department.created"]
