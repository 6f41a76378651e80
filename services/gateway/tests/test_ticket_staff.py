"""GET /tickets/{ticket_id}/staff: the colleagues on a ticket's mailbox, for whoever sees the
ticket, with the same assignee and @mention judgments the ticket's writes make (real
PostgreSQL).

`world` (conftest): in tenant A the `support` mailbox has primary, backup and viewer (and a
deactivated user) assigned, `sales` only the backup's inactive assignment, `bulk` the
primary; B is another tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from postdesk_contracts.api_access import ApiScope
from postdesk_gateway import inbox_db
from postdesk_gateway.access import required_scope
from postdesk_runtime import Sessions
from postdesk_schema import TenantRole, User

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def former_admin(sessions: Sessions, world: Any) -> User:
    """A deactivated admin of tenant A: admins are listed, deactivated users never."""
    user = User(
        tenant_id=world.tenant_a,
        email=f"former-admin-{world.suffix}@example.test",
        password_hash=PasswordHasher().hash("unused password"),
        full_name="Former Admin",
        role=TenantRole.ADMIN,
        is_active=False,
    )
    async with sessions() as session:
        session.add(user)
        await session.commit()
    return user


def staff_url(world: Any, ticket: str) -> str:
    return f"/tickets/{world.tickets[ticket].id}/staff"


def entry(world: Any, name: str, role: str, *, assignee: bool) -> dict[str, Any]:
    user = world.users[name]
    return {
        "id": str(user.id),
        "full_name": user.full_name,
        "email": user.email,
        "role": role,
        "can_be_assignee": assignee,
        "mentionable": True,
    }


@pytest.mark.parametrize("caller", ["primary", "backup", "viewer", "admin"])
async def test_whoever_sees_the_ticket_gets_its_mailbox_staff_and_the_admins(
    client: httpx.AsyncClient, world: Any, auth: Auth, former_admin: User, caller: str
) -> None:
    """Primary, backup, viewer and admin get the same list, by full name: each assigned user
    with their mailbox role, the admin as `admin`; only non-viewers are assignees; nobody
    deactivated (the inactive backup, the former admin), unassigned or of tenant B."""
    response = await client.get(staff_url(world, "support_1"), headers=auth(caller))
    assert response.status_code == 200, response.text
    assert response.json()["items"] == [
        entry(world, "admin", "admin", assignee=False),
        entry(world, "backup", "backup", assignee=True),
        entry(world, "primary", "primary", assignee=True),
        entry(world, "viewer", "viewer", assignee=False),
    ]


async def test_each_mailbox_has_its_own_staff(
    client: httpx.AsyncClient, world: Any, auth: Auth
) -> None:
    """A ticket of `bulk` lists its primary and the admin only; a ticket of `sales`, whose one
    assignment is inactive, only the admin."""
    bulk = await client.get(f"/tickets/{world.bulk_ticket_ids[0]}/staff", headers=auth("primary"))
    assert bulk.status_code == 200, bulk.text
    assert [(s["email"], s["role"]) for s in bulk.json()["items"]] == [
        (world.email("admin"), "admin"),
        (world.email("primary"), "primary"),
    ]
    sales = await client.get(staff_url(world, "sales_1"), headers=auth("admin"))
    assert sales.status_code == 200, sales.text
    assert [s["email"] for s in sales.json()["items"]] == [world.email("admin")]


@pytest.mark.parametrize(
    ("caller", "ticket"),
    [
        ("viewer", "bulk"),  # assigned to another mailbox of the tenant
        ("backup", "sales_1"),  # an inactive assignment
        ("unassigned", "support_1"),
        ("admin_b", "support_1"),  # another tenant's ticket
        ("admin", "b_1"),
    ],
)
async def test_a_ticket_the_caller_cannot_see_is_404_like_the_ticket_itself(
    client: httpx.AsyncClient, world: Any, auth: Auth, caller: str, ticket: str
) -> None:
    """The same problem as GET /tickets/{ticket_id}: nothing tells the ticket exists."""
    ticket_id = world.bulk_ticket_ids[0] if ticket == "bulk" else world.tickets[ticket].id
    staff = await client.get(f"/tickets/{ticket_id}/staff", headers=auth(caller))
    itself = await client.get(f"/tickets/{ticket_id}", headers=auth(caller))
    assert (staff.status_code, itself.status_code) == (404, 404), staff.text
    assert staff.headers["content-type"].startswith("application/problem+json")
    assert staff.json()["detail"] == itself.json()["detail"]


async def test_can_be_assignee_is_what_the_ticket_change_accepts(
    client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
) -> None:
    """Every listed user's `can_be_assignee` is `inbox_db.can_be_assignee`, the check
    PATCH /tickets/{id} makes, and the PATCH accepts the assignee it offers."""
    ticket = world.tickets["support_2"]
    response = await client.get(staff_url(world, "support_2"), headers=auth("viewer"))
    staff = response.json()["items"]
    async with sessions() as session:
        for member in staff:
            judged = await inbox_db.can_be_assignee(
                session, world.tenant_a, uuid.UUID(member["id"]), ticket.account_id
            )
            assert member["can_be_assignee"] is judged, member
    [backup] = [m for m in staff if m["role"] == "backup"]
    assigned = await client.patch(
        f"/tickets/{ticket.id}", headers=auth("admin"), json={"assignee_id": backup["id"]}
    )
    assert assigned.status_code == 200, assigned.text


async def test_every_mentionable_user_can_be_mentioned_in_a_note(
    client: httpx.AsyncClient, world: Any, auth: Auth
) -> None:
    """A note naming every `mentionable` user by login is accepted and mentions them all."""
    ticket = world.tickets["support_2"]
    response = await client.get(staff_url(world, "support_2"), headers=auth("backup"))
    mentionable = [m for m in response.json()["items"] if m["mentionable"]]
    body = " ".join(f"@{m['email']}" for m in mentionable)
    note = await client.post(
        f"/tickets/{ticket.id}/notes", headers=auth("backup"), json={"body": body}
    )
    assert note.status_code == 201, note.text
    assert note.json()["mentioned_user_ids"] == [m["id"] for m in mentionable]


def test_an_api_token_needs_the_ticket_read_scope() -> None:
    assert required_scope("GET", "/tickets/x/staff", {}) == ApiScope.TICKETS_READ
