"""The admin assignments API: list per mailbox and per user, add, change, remove; viewers
stay read-only; every change audited with old and new values; the rights take effect on the
next request. Admins only, another tenant's ids 404. Real PostgreSQL.

`world` (conftest) is this module's own: in tenant A, support has primary, backup, viewer
and an inactive user assigned, sales only the backup's removed assignment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, EmailAssignment
from postdesk_testing.problems import problem_detail
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]


def body(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def audited(sessions: Sessions, assignment_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog)
            .where(
                col(AuditLog.object_type) == "email_assignment",
                col(AuditLog.object_id) == assignment_id,
            )
            .order_by(col(AuditLog.created_at), col(AuditLog.id))
        )
        return [(row.action, row.detail) for row in rows]


async def sees_ticket(client: httpx.AsyncClient, auth: Auth, role: str, ticket_id: Any) -> bool:
    """Whether `role` may open the ticket on the inbox side (200, or 404 as for any other)."""
    response = await client.get(f"/tickets/{ticket_id}", headers=auth(role))
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


async def test_lists_per_account_and_per_user(
    client: httpx.AsyncClient, auth: Auth, world: Any
) -> None:
    """Active assignments first, the removed ones after; only the tenant's."""
    support = body(
        await client.get(
            f"/admin/accounts/{world.accounts['support'].id}/assignments", headers=auth("admin")
        ),
        200,
    )["items"]
    assert {item["user_id"] for item in support} == {
        str(world.users[n].id) for n in ("primary", "backup", "viewer", "inactive")
    }
    backup = body(
        await client.get(
            f"/admin/users/{world.users['backup'].id}/assignments", headers=auth("admin")
        ),
        200,
    )["items"]
    assert [(item["account_id"], item["is_active"]) for item in backup] == [
        (str(world.accounts["support"].id), True),
        (str(world.accounts["sales"].id), False),
    ]


async def test_add_change_remove_with_effect_and_audit(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """An added viewer sees the mailbox's tickets at once and loses them on removal; each
    step's audit row holds what changed, old and new."""
    sales = str(world.accounts["sales"].id)
    viewer = world.users["unassigned"].id
    sales_ticket = world.tickets["sales_1"].id
    assert not await sees_ticket(client, auth, "unassigned", sales_ticket)
    added = body(
        await client.post(
            "/admin/assignments",
            json={"account_id": sales, "user_id": str(viewer), "role": "viewer"},
            headers=auth("admin"),
        ),
        201,
    )
    assert (added["can_send"], added["can_delete"], added["assigned_by"]) == (
        False,
        False,
        str(world.users["admin"].id),
    )
    assert await sees_ticket(client, auth, "unassigned", sales_ticket)
    url = f"/admin/assignments/{added['id']}"
    problem_detail(await client.patch(url, json={"can_send": True}, headers=auth("admin")), 422)
    changed = body(
        await client.patch(
            url, json={"role": "backup", "can_send": True, "priority": 3}, headers=auth("admin")
        ),
        200,
    )
    assert (changed["role"], changed["can_send"], changed["priority"]) == ("backup", True, 3)
    problem_detail(await client.patch(url, json={"role": "viewer"}, headers=auth("admin")), 422)
    removed = body(await client.delete(url, headers=auth("admin")), 200)
    assert removed["is_active"] is False
    assert not await sees_ticket(client, auth, "unassigned", sales_ticket)
    trail = await audited(sessions, added["id"])
    assert [action for action, _ in trail] == [
        "assignment.created",
        "assignment.updated",
        "assignment.removed",
    ]
    assert trail[1][1]["old"] | {"account_id": sales} == {
        "account_id": sales,
        "user_id": str(viewer),
        "role": "viewer",
        "can_send": False,
        "priority": 0,
    }
    assert trail[1][1]["new"] == {"role": "backup", "can_send": True, "priority": 3}
    assert trail[2][1]["new"] == {"is_active": False}
    restored = body(
        await client.post(
            "/admin/assignments",
            json={"account_id": sales, "user_id": str(viewer), "role": "primary"},
            headers=auth("admin"),
        ),
        201,
    )
    assert (restored["id"], restored["is_active"], restored["can_delete"]) == (
        added["id"],
        True,
        True,
    )
    assert (await audited(sessions, added["id"]))[-1][0] == "assignment.restored"


async def test_add_validation(client: httpx.AsyncClient, auth: Auth, world: Any) -> None:
    """A viewer that sends or deletes is 422; an active duplicate 409; bad roles and unknown
    fields 400; another tenant's mailbox or user 404."""
    support, primary = str(world.accounts["support"].id), str(world.users["primary"].id)
    unassigned = str(world.users["unassigned"].id)
    for rights in ({"can_send": True}, {"can_delete": True}):
        problem_detail(
            await client.post(
                "/admin/assignments",
                json={"account_id": support, "user_id": unassigned, "role": "viewer", **rights},
                headers=auth("admin"),
            ),
            422,
        )
    problem_detail(
        await client.post(
            "/admin/assignments",
            json={"account_id": support, "user_id": primary, "role": "backup"},
            headers=auth("admin"),
        ),
        409,
    )
    for payload in (
        {"account_id": support, "user_id": unassigned, "role": "owner"},
        {"account_id": support, "user_id": unassigned, "role": "backup", "tenant_id": support},
    ):
        problem_detail(
            await client.post("/admin/assignments", json=payload, headers=auth("admin")), 400
        )
    for payload in (
        {"account_id": str(world.accounts["b_support"].id), "user_id": unassigned},
        {"account_id": support, "user_id": str(world.users["admin_b"].id)},
    ):
        problem_detail(
            await client.post(
                "/admin/assignments", json=payload | {"role": "backup"}, headers=auth("admin")
            ),
            404,
        )


async def test_members_refused_and_tenants_apart(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Members (even the mailbox's primary) get 403; B's admin gets 404 for A's assignment
    and changes nothing."""
    async with sessions() as session:
        viewer = (
            await session.scalars(
                select(EmailAssignment).where(
                    col(EmailAssignment.user_id) == world.users["viewer"].id
                )
            )
        ).one()
    url = f"/admin/assignments/{viewer.id}"
    payload = {
        "account_id": str(world.accounts["sales"].id),
        "user_id": str(world.users["viewer"].id),
        "role": "viewer",
    }
    for role in ("primary", "viewer"):
        problem_detail(
            await client.get(
                f"/admin/users/{world.users['viewer'].id}/assignments", headers=auth(role)
            ),
            403,
        )
        problem_detail(
            await client.post("/admin/assignments", json=payload, headers=auth(role)), 403
        )
        problem_detail(await client.patch(url, json={"role": "primary"}, headers=auth(role)), 403)
        problem_detail(await client.delete(url, headers=auth(role)), 403)
    problem_detail(
        await client.get(
            f"/admin/users/{world.users['viewer'].id}/assignments", headers=auth("admin_b")
        ),
        404,
    )
    problem_detail(await client.patch(url, json={"role": "primary"}, headers=auth("admin_b")), 404)
    problem_detail(await client.delete(url, headers=auth("admin_b")), 404)
    async with sessions() as session:
        stored = await session.get(EmailAssignment, viewer.id)
    assert stored is not None
    assert (stored.role, stored.is_active) == ("viewer", True)
    assert await audited(sessions, str(viewer.id)) == []
