"""The admin users API: list filters and paging, create (with the personal mailbox), update,
deactivate; admins only, another tenant's users 404, every write audited. Real PostgreSQL.

`world` (conftest) is this module's own: tenant A with its admin and agents, tenant B with
its admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, EmailAccount, EmailAssignment, User
from postdesk_testing.problems import problem_detail
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
NEW_PASSWORD = "a long enough new password"


def body(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def audit_rows(sessions: Sessions, object_id: str, action: str) -> list[AuditLog]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog).where(
                col(AuditLog.object_id) == object_id, col(AuditLog.action) == action
            )
        )
        return list(rows.all())


def new_user(**fields: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return {"email": f"New.User-{tag}@Example.test", "full_name": f"New User {tag}"} | fields


async def test_members_are_refused(client: httpx.AsyncClient, auth: Auth, world: Any) -> None:
    """Every admin users endpoint answers 403 to a member, even one with mailboxes."""
    some = world.users["viewer"].id
    for role in ("primary", "viewer"):
        problem_detail(await client.get("/admin/users", headers=auth(role)), 403)
        problem_detail(await client.get(f"/admin/users/{some}", headers=auth(role)), 403)
        problem_detail(await client.post("/admin/users", json=new_user(), headers=auth(role)), 403)
        problem_detail(
            await client.patch(f"/admin/users/{some}", json={"job_title": "x"}, headers=auth(role)),
            403,
        )
        problem_detail(
            await client.post(f"/admin/users/{some}/deactivate", headers=auth(role)), 403
        )


async def test_another_tenants_user_is_not_found(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Tenant B's admin gets 404 for tenant A's user on every endpoint, and changes nothing."""
    target = world.users["viewer"].id
    problem_detail(await client.get(f"/admin/users/{target}", headers=auth("admin_b")), 404)
    problem_detail(
        await client.patch(
            f"/admin/users/{target}", json={"job_title": "hijacked"}, headers=auth("admin_b")
        ),
        404,
    )
    problem_detail(
        await client.post(f"/admin/users/{target}/deactivate", headers=auth("admin_b")), 404
    )
    listed = body(await client.get("/admin/users", headers=auth("admin_b")), 200)
    assert {item["email"] for item in listed["items"]} == {world.email("admin_b")}
    async with sessions() as session:
        stored = await session.get(User, target)
    assert stored is not None
    assert stored.is_active
    assert stored.job_title == ""


async def test_list_filters_and_pages(client: httpx.AsyncClient, auth: Auth, world: Any) -> None:
    """Filters by activity and name, and keyset pages cover every user exactly once."""
    inactive = body(await client.get("/admin/users?active=false", headers=auth("admin")), 200)
    assert world.email("inactive") in {item["email"] for item in inactive["items"]}
    assert all(not item["is_active"] for item in inactive["items"])
    found = body(await client.get("/admin/users?search=ViEwEr", headers=auth("admin")), 200)
    assert [item["email"] for item in found["items"]] == [world.email("viewer")]
    assert (
        body(await client.get("/admin/users?search=%25", headers=auth("admin")), 200)["items"] == []
    )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = "/admin/users?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = body(await client.get(query, headers=auth("admin")), 200)
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everyone = body(await client.get("/admin/users?limit=200", headers=auth("admin")), 200)
    assert seen == [item["id"] for item in everyone["items"]]
    assert len(seen) == len(set(seen)) >= 6
    problem_detail(await client.get("/admin/users?cursor=bogus", headers=auth("admin")), 400)
    problem_detail(await client.get("/admin/users?search=a%00b", headers=auth("admin")), 400)


async def test_create_with_company_email_makes_the_personal_mailbox(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """The user, their personal mailbox (lower-cased) and primary assignment come together;
    the generated password is returned once, stored only as an argon2 hash, and logs in."""
    company = f"Jane-{world.suffix}@Acme.test"
    created = body(
        await client.post(
            "/admin/users",
            json=new_user(
                company_email=company,
                job_title="Agent",
                working_hours={"mon": [["09:00", "17:00"]]},
                timezone="Europe/Berlin",
                notification_preferences={"mention": {"email": False}},
            ),
            headers=auth("admin"),
        ),
        201,
    )
    password = created["initial_password"]
    assert password
    assert created["email"] == created["email"].lower()
    async with sessions() as session:
        user = await session.get(User, uuid.UUID(created["id"]))
        account = await session.get(EmailAccount, uuid.UUID(created["personal_account_id"]))
        assignment = (
            await session.scalars(
                select(EmailAssignment).where(col(EmailAssignment.user_id) == user.id)  # type: ignore[union-attr]
            )
        ).one()
    assert user is not None
    assert account is not None
    assert PasswordHasher().verify(user.password_hash, password)
    assert user.tenant_id == world.tenant_a
    assert user.company_email == company.lower()
    assert (account.address, account.kind, account.owner_user_id) == (
        company.lower(),
        "personal",
        user.id,
    )
    assert (assignment.account_id, assignment.role, assignment.can_send) == (
        account.id,
        "primary",
        True,
    )
    login = await client.post("/auth/login", json={"email": user.email, "password": password})
    assert login.status_code == 200, login.text
    assert await audit_rows(sessions, created["id"], "user.created")
    assert await audit_rows(sessions, str(account.id), "account.created")


async def test_taken_login_or_address_is_a_conflict_and_creates_nothing(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """409 for a login or company email taken in any tenant; no half-made user remains."""
    problem_detail(
        await client.post(
            "/admin/users",
            json=new_user(email=world.email("admin_b").upper()),
            headers=auth("admin"),
        ),
        409,
    )
    fresh = new_user(company_email=world.accounts["b_support"].address)
    problem_detail(await client.post("/admin/users", json=fresh, headers=auth("admin")), 409)
    async with sessions() as session:
        leftover = await session.scalar(
            select(User).where(col(User.email) == fresh["email"].lower())
        )
    assert leftover is None


async def test_create_validates_schedule_preferences_and_fields(
    client: httpx.AsyncClient, auth: Auth, world: Any
) -> None:
    """Bad working hours, timezone or preferences are 422; unknown fields, short passwords
    and bad roles are 400; another tenant's department is 404."""
    cases_422: list[dict[str, Any]] = [
        {"working_hours": {"mon": [["25:00", "17:00"]]}},
        {"timezone": "Mars/Olympus"},
        {"notification_preferences": {"digest": {"in_app": True}}},
        {"notification_preferences": {"nonsense": {"email": True}}},
    ]
    for fields in cases_422:
        problem_detail(
            await client.post("/admin/users", json=new_user(**fields), headers=auth("admin")), 422
        )
    cases_400: list[dict[str, Any]] = [
        {"is_admin": True},
        {"password": "short"},
        {"role": "owner"},
        {"email": "nope"},
        {"full_name": "nul\x00byte"},
        {"working_hours": {"mon": [["09:00", "17:00\x00"]]}},
    ]
    for fields in cases_400:
        problem_detail(
            await client.post("/admin/users", json=new_user(**fields), headers=auth("admin")), 400
        )
    department = body(
        await client.post(
            "/admin/departments",
            json={"name": f"B {uuid.uuid4().hex[:6]}"},
            headers=auth("admin_b"),
        ),
        201,
    )
    problem_detail(
        await client.post(
            "/admin/users", json=new_user(department_id=department["id"]), headers=auth("admin")
        ),
        404,
    )


async def test_update_changes_only_given_fields_and_audits_old_and_new(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """PATCH sets what it names and keeps the rest; the audit row holds old and new values."""
    created = body(
        await client.post(
            "/admin/users",
            json=new_user(job_title="Agent", password=NEW_PASSWORD),
            headers=auth("admin"),
        ),
        201,
    )
    assert created["initial_password"] is None
    changed = body(
        await client.patch(
            f"/admin/users/{created['id']}",
            json={"job_title": "Lead", "role": "admin"},
            headers=auth("admin"),
        ),
        200,
    )
    assert (changed["job_title"], changed["role"], changed["full_name"]) == (
        "Lead",
        "admin",
        created["full_name"],
    )
    (row,) = await audit_rows(sessions, created["id"], "user.updated")
    assert row.detail == {
        "old": {"job_title": "Agent", "role": "member"},
        "new": {"job_title": "Lead", "role": "admin"},
    }
    assert row.actor_user_id == world.users["admin"].id
    assert row.ip == "127.0.0.1"
    url = f"/admin/users/{created['id']}"
    problem_detail(await client.patch(url, json={"password_hash": "x"}, headers=auth("admin")), 400)
    problem_detail(
        await client.patch(url, json={"tenant_id": str(world.tenant_b)}, headers=auth("admin")), 400
    )
    problem_detail(await client.patch(url, json={"full_name": None}, headers=auth("admin")), 422)
    problem_detail(
        await client.patch(url, json={"working_hours": {"xyz": []}}, headers=auth("admin")), 422
    )


async def test_deactivate_locks_the_user_out_and_never_deletes(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Deactivation keeps the row, refuses the user's next login, and is audited once;
    an admin cannot deactivate or demote themselves."""
    created = body(
        await client.post(
            "/admin/users", json=new_user(password=NEW_PASSWORD), headers=auth("admin")
        ),
        201,
    )
    for _ in range(2):
        done = body(
            await client.post(f"/admin/users/{created['id']}/deactivate", headers=auth("admin")),
            200,
        )
        assert done["is_active"] is False
    login = await client.post(
        "/auth/login", json={"email": created["email"], "password": NEW_PASSWORD}
    )
    assert login.status_code == 401
    assert len(await audit_rows(sessions, created["id"], "user.deactivated")) == 1
    me = world.users["admin"].id
    problem_detail(await client.post(f"/admin/users/{me}/deactivate", headers=auth("admin")), 422)
    problem_detail(
        await client.patch(f"/admin/users/{me}", json={"role": "member"}, headers=auth("admin")),
        422,
    )


class TestPasswordReset:
    async def login(self, client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
        return await client.post("/auth/login", json={"email": email, "password": password})

    async def test_a_generated_password_ends_every_session_of_the_user(
        self, client: httpx.AsyncClient, auth: Auth, sessions: Sessions
    ) -> None:
        """The answer holds a generated password, shown once; the user's refresh and access
        tokens stop working, the old password too; the new one logs in; the audit row says
        a password was generated and holds no password."""
        created = body(
            await client.post(
                "/admin/users", json=new_user(password=NEW_PASSWORD), headers=auth("admin")
            ),
            201,
        )
        before = body(await self.login(client, created["email"], NEW_PASSWORD), 200)

        done = body(
            await client.post(
                f"/admin/users/{created['id']}/password", json={}, headers=auth("admin")
            ),
            200,
        )

        temporary = done["temporary_password"]
        assert done["user_id"] == created["id"]
        assert len(temporary) >= 20
        bearer = {"Authorization": f"Bearer {before['access_token']}"}
        problem_detail(await client.get("/me", headers=bearer), 401)
        refresh = {"refresh_token": before["refresh_token"]}
        problem_detail(await client.post("/auth/refresh", json=refresh), 401)
        problem_detail(await self.login(client, created["email"], NEW_PASSWORD), 401)
        after = body(await self.login(client, created["email"], temporary), 200)
        me = {"Authorization": f"Bearer {after['access_token']}"}
        assert body(await client.get("/me", headers=me), 200)["email"] == created["email"]
        [row] = await audit_rows(sessions, created["id"], "user.password_reset")
        assert row.detail["new"] == {"generated": True}
        assert temporary not in str(row.detail)

    async def test_an_admins_password_lifts_a_lockout(
        self, client: httpx.AsyncClient, auth: Auth, sessions: Sessions
    ) -> None:
        created = body(
            await client.post("/admin/users", json=new_user(), headers=auth("admin")), 201
        )
        async with sessions() as session, session.begin():
            row = await session.get(User, uuid.UUID(created["id"]))
            assert row is not None
            row.failed_login_count, row.locked_until = 10, datetime.now(UTC) + timedelta(hours=1)
        chosen = "violet-anchor-season-58"

        done = body(
            await client.post(
                f"/admin/users/{created['id']}/password",
                json={"password": chosen},
                headers=auth("admin"),
            ),
            200,
        )

        assert done["temporary_password"] is None
        body(await self.login(client, created["email"], chosen), 200)
        async with sessions() as session:
            row = await session.get(User, uuid.UUID(created["id"]))
            assert row is not None
            assert (row.failed_login_count, row.locked_until) == (0, None)

    async def test_refusals(self, client: httpx.AsyncClient, auth: Auth, world: Any) -> None:
        """Members 403; another tenant's user 404; yourself 422 (use /me/password); a weak
        or short password 422 and never echoed."""
        target = world.users["viewer"].id
        url = f"/admin/users/{target}/password"
        for role in ("primary", "viewer"):
            problem_detail(await client.post(url, json={}, headers=auth(role)), 403)
        problem_detail(await client.post(url, json={}, headers=auth("admin_b")), 404)
        own = f"/admin/users/{world.users['admin'].id}/password"
        assert "/me/password" in problem_detail(
            await client.post(own, json={}, headers=auth("admin")), 422
        )
        weak = "aaaaaaaaaaaaaaaa"
        response = await client.post(url, json={"password": weak}, headers=auth("admin"))
        problem_detail(response, 422)
        assert weak not in response.text
        short = await client.post(url, json={"password": "Zq9#xV"}, headers=auth("admin"))
        assert short.status_code == 400
        assert "Zq9#xV" not in short.text
