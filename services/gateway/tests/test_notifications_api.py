"""The notifications API: pages, reads, unread count; preferences; department managers
(real PostgreSQL). Notifications are the notifier's rows, written here directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from postdesk_contracts.notify_prefs import effective_preferences
from postdesk_gateway.auth import TokenService
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, Department, Notification, User
from postdesk_testing.problems import problem_detail
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
JWT_SECRET = "test-secret-" + "x" * 32
BASE = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def new_user(sessions: Sessions, tenant_id: uuid.UUID, **overrides: Any) -> User:
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "email": f"user-{uuid.uuid4().hex[:12]}@example.test",
        "password_hash": PasswordHasher().hash("unused password"),
        "full_name": "Someone",
    }
    user = User(**(values | overrides))
    async with sessions() as session:
        session.add(user)
        await session.commit()
    return user


def bearer(user: User) -> dict[str, str]:
    token = TokenService(JWT_SECRET, lifetime=timedelta(minutes=5)).issue(user.id, user.tenant_id)
    return {"Authorization": f"Bearer {token}"}


def make_notification(user: User, updated_at: datetime, **overrides: Any) -> Notification:
    values: dict[str, Any] = {
        "tenant_id": user.tenant_id,
        "user_id": user.id,
        "kind": "customer_reply",
        "title": f"Reply at {updated_at.isoformat()}",
        "source_event_id": uuid.uuid4(),
        "created_at": updated_at - timedelta(minutes=1),
        "updated_at": updated_at,
    }
    return Notification(**(values | overrides))


async def store(sessions: Sessions, *rows: Notification) -> None:
    async with sessions() as session:
        session.add_all(rows)
        await session.commit()


class TestListing:
    async def test_keyset_pages_return_each_notification_once_latest_change_first(
        self, client: httpx.AsyncClient, world: Any, sessions: Sessions
    ) -> None:
        """Pages of 3 over 7 rows (some changed at the same instant) give each row once, in
        (updated_at, id) descending order, with every field; an email-only record
        (`data.in_app` false) is never listed."""
        user = await new_user(sessions, world.tenant_a)
        actor = world.users["primary"]
        times = [BASE, BASE, BASE + timedelta(minutes=1), BASE + timedelta(minutes=1)]
        times += [BASE + timedelta(minutes=m) for m in (2, 3, 4)]
        rows = [
            make_notification(
                user,
                at,
                ticket_id=world.tickets["support_1"].id,
                actor_id=actor.id,
                event_count=i + 1,
                data={"number": i},
            )
            for i, at in enumerate(times)
        ]
        hidden = make_notification(
            user, BASE + timedelta(minutes=5), data={"in_app": False}, read_at=BASE
        )
        await store(sessions, *rows, hidden)

        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            response = await client.get("/notifications", headers=bearer(user), params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 3
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        expected = sorted(rows, key=lambda n: (n.updated_at, n.id), reverse=True)
        assert [item["id"] for item in seen] == [str(n.id) for n in expected]
        first = seen[0]
        newest = expected[0]
        assert first["kind"] == "customer_reply"
        assert first["ticket_id"] == str(world.tickets["support_1"].id)
        assert first["actor_id"] == str(actor.id)
        assert (first["event_count"], first["data"]) == (newest.event_count, newest.data)
        assert datetime.fromisoformat(first["updated_at"]) == newest.updated_at
        assert datetime.fromisoformat(first["created_at"]) == newest.created_at
        assert first["read_at"] is None

    async def test_unread_only_and_the_unread_count(
        self, client: httpx.AsyncClient, world: Any, sessions: Sessions
    ) -> None:
        """unread_only lists just the unread ones; the count agrees."""
        user = await new_user(sessions, world.tenant_a)
        unread = [make_notification(user, BASE + timedelta(minutes=m)) for m in (1, 2)]
        read = make_notification(user, BASE + timedelta(minutes=3), read_at=BASE)
        await store(sessions, *unread, read)
        response = await client.get(
            "/notifications", headers=bearer(user), params={"unread_only": "true"}
        )
        assert response.status_code == 200, response.text
        assert {i["id"] for i in response.json()["items"]} == {str(n.id) for n in unread}
        count = await client.get("/notifications/unread-count", headers=bearer(user))
        assert count.json() == {"unread": 2}

    async def test_a_cursor_we_did_not_issue_is_a_400(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        response = await client.get(
            "/notifications", headers=auth("primary"), params={"cursor": "not-a-cursor"}
        )
        problem_detail(response, 400)


class TestReading:
    async def test_reading_one_marks_it_once(
        self, client: httpx.AsyncClient, world: Any, sessions: Sessions
    ) -> None:
        """POST /{id}/read sets read_at; reading it again keeps the first time; the unread
        count drops by one."""
        user = await new_user(sessions, world.tenant_a)
        first, second = (make_notification(user, BASE + timedelta(minutes=m)) for m in (1, 2))
        await store(sessions, first, second)
        response = await client.post(f"/notifications/{first.id}/read", headers=bearer(user))
        assert response.status_code == 200, response.text
        read_at = response.json()["read_at"]
        assert read_at is not None
        again = await client.post(f"/notifications/{first.id}/read", headers=bearer(user))
        assert again.json()["read_at"] == read_at
        count = await client.get("/notifications/unread-count", headers=bearer(user))
        assert count.json() == {"unread": 1}

    async def test_another_users_notification_is_a_404(
        self, client: httpx.AsyncClient, world: Any, sessions: Sessions
    ) -> None:
        """Another user's id (same tenant or not), an unknown id and an email-only record are
        404s, and the other user's row stays unread."""
        owner = await new_user(sessions, world.tenant_a)
        other = await new_user(sessions, world.tenant_a)
        other_tenant = await new_user(sessions, world.tenant_b)
        theirs = make_notification(owner, BASE)
        email_only = make_notification(other, BASE, data={"in_app": False})
        await store(sessions, theirs, email_only)
        for caller, notification_id in [
            (other, theirs.id),
            (other_tenant, theirs.id),
            (other, uuid.uuid4()),
            (other, email_only.id),
        ]:
            response = await client.post(
                f"/notifications/{notification_id}/read", headers=bearer(caller)
            )
            problem_detail(response, 404)
        async with sessions() as session:
            row = await session.get(Notification, theirs.id)
            assert row is not None
            assert row.read_at is None

    async def test_read_all_up_to_a_time_then_all(
        self, client: httpx.AsyncClient, world: Any, sessions: Sessions
    ) -> None:
        """read-all with `before` marks the unread rows changed at or before it; without it,
        the rest. Nobody else's rows change."""
        user = await new_user(sessions, world.tenant_a)
        bystander = await new_user(sessions, world.tenant_a)
        rows = [make_notification(user, BASE + timedelta(minutes=m)) for m in (1, 2, 3)]
        theirs = make_notification(bystander, BASE)
        await store(sessions, *rows, theirs)
        cutoff = (BASE + timedelta(minutes=2)).isoformat()
        response = await client.post(
            "/notifications/read-all", headers=bearer(user), json={"before": cutoff}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"marked": 2}
        unread = await client.get(
            "/notifications", headers=bearer(user), params={"unread_only": "true"}
        )
        assert [i["id"] for i in unread.json()["items"]] == [str(rows[2].id)]
        rest = await client.post("/notifications/read-all", headers=bearer(user))
        assert rest.json() == {"marked": 1}
        count = await client.get("/notifications/unread-count", headers=bearer(bystander))
        assert count.json() == {"unread": 1}

    async def test_read_all_refuses_a_time_without_zone(
        self, client: httpx.AsyncClient, auth: Auth
    ) -> None:
        response = await client.post(
            "/notifications/read-all",
            headers=auth("primary"),
            json={"before": "2025-01-01T00:00:00"},
        )
        problem_detail(response, 400)

    @pytest.mark.parametrize("before", [38.0, 1735689600, "1735689600"])
    async def test_read_all_refuses_a_number_for_a_time(
        self, client: httpx.AsyncClient, auth: Auth, before: object
    ) -> None:
        """A Unix time is no documented date-time: 400, not a cut-off somewhere in 1970."""
        response = await client.post(
            "/notifications/read-all", headers=auth("primary"), json={"before": before}
        )
        problem_detail(response, 400)


class TestPreferences:
    async def test_defaults_then_a_round_trip(
        self, client: httpx.AsyncClient, world: Any, sessions: Sessions
    ) -> None:
        """A new user sees the defaults; what they save is stored as sent and read back with
        the defaults filled in."""
        user = await new_user(sessions, world.tenant_a)
        response = await client.get("/me/notification-preferences", headers=bearer(user))
        assert response.status_code == 200, response.text
        assert response.json() == {"preferences": effective_preferences({})}

        wanted = {"mention": {"email": False}, "digest": {"email": True}}
        saved = await client.put(
            "/me/notification-preferences", headers=bearer(user), json={"preferences": wanted}
        )
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"preferences": effective_preferences(wanted)}
        assert saved.json()["preferences"]["mention"] == {"in_app": True, "email": False}
        again = await client.get("/me/notification-preferences", headers=bearer(user))
        assert again.json() == saved.json()
        async with sessions() as session:
            stored = await session.get(User, user.id)
            assert stored is not None
            assert stored.notification_preferences == wanted

    @pytest.mark.parametrize(
        ("preferences", "message"),
        [
            ({"birthdays": {"email": True}}, "unknown notification kind 'birthdays'"),
            ({"mention": {"sms": True}}, "unknown channel 'sms'"),
            ({"mention": {"email": "yes"}}, "must be true or false"),
            ({"mention": True}, "must be an object of channels"),
            ({"digest": {"in_app": True}}, "email only"),
        ],
    )
    async def test_invalid_preferences_are_a_422_and_change_nothing(
        self,
        client: httpx.AsyncClient,
        world: Any,
        sessions: Sessions,
        preferences: dict[str, Any],
        message: str,
    ) -> None:
        """Unknown kinds or channels, values other than true and false, in-app digests: 422
        with the reason; the stored choices stay."""
        user = await new_user(
            sessions, world.tenant_a, notification_preferences={"assigned": {"email": False}}
        )
        response = await client.put(
            "/me/notification-preferences",
            headers=bearer(user),
            json={"preferences": preferences},
        )
        assert message in problem_detail(response, 422)
        async with sessions() as session:
            stored = await session.get(User, user.id)
            assert stored is not None
            assert stored.notification_preferences == {"assigned": {"email": False}}


class TestDepartmentManagers:
    async def _department(self, sessions: Sessions, tenant_id: uuid.UUID) -> Department:
        department = Department(tenant_id=tenant_id, name=f"Support {uuid.uuid4().hex[:8]}")
        async with sessions() as session:
            session.add(department)
            await session.commit()
        return department

    async def test_admin_sets_and_reads_managers(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """PUT replaces the managers (duplicates once), GET reads them back; each change is
        audit-logged."""
        department = await self._department(sessions, world.tenant_a)
        path = f"/admin/departments/{department.id}/managers"
        empty = await client.get(path, headers=auth("admin"))
        assert empty.status_code == 200, empty.text
        assert empty.json() == {"department_id": str(department.id), "user_ids": []}

        primary, backup = (str(world.users[r].id) for r in ("primary", "backup"))
        response = await client.put(
            path, headers=auth("admin"), json={"user_ids": [primary, backup, primary]}
        )
        assert response.status_code == 200, response.text
        assert sorted(response.json()["user_ids"]) == sorted([primary, backup])
        fewer = await client.put(path, headers=auth("admin"), json={"user_ids": [backup]})
        assert fewer.json()["user_ids"] == [backup]
        assert (await client.get(path, headers=auth("admin"))).json()["user_ids"] == [backup]
        async with sessions() as session:
            audited = await session.scalars(
                select(AuditLog).where(
                    col(AuditLog.action) == "department.managers_set",
                    col(AuditLog.object_id) == str(department.id),
                )
            )
            assert len(audited.all()) == 2

    @pytest.mark.parametrize("who", ["inactive", "admin_b"])
    async def test_managers_must_be_active_users_of_the_tenant(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions, who: str
    ) -> None:
        """A deactivated user, or one of another tenant, is a 422 naming the id; the managers
        stay as they were."""
        department = await self._department(sessions, world.tenant_a)
        path = f"/admin/departments/{department.id}/managers"
        primary = str(world.users["primary"].id)
        assert (
            await client.put(path, headers=auth("admin"), json={"user_ids": [primary]})
        ).status_code == 200
        refused = str(world.users[who].id)
        response = await client.put(
            path, headers=auth("admin"), json={"user_ids": [primary, refused]}
        )
        detail = problem_detail(response, 422)
        assert refused in detail
        assert primary not in detail
        assert (await client.get(path, headers=auth("admin"))).json()["user_ids"] == [primary]

    async def test_only_the_tenants_admins(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """A member gets 403; another tenant's admin, or an unknown department, 404."""
        department = await self._department(sessions, world.tenant_a)
        path = f"/admin/departments/{department.id}/managers"
        body = {"user_ids": [str(world.users["primary"].id)]}
        problem_detail(await client.get(path, headers=auth("primary")), 403)
        problem_detail(await client.put(path, headers=auth("primary"), json=body), 403)
        problem_detail(await client.get(path, headers=auth("admin_b")), 404)
        problem_detail(await client.put(path, headers=auth("admin_b"), json=body), 404)
        unknown = f"/admin/departments/{uuid.uuid4()}/managers"
        problem_detail(await client.get(unknown, headers=auth("admin")), 404)


async def test_the_openapi_document_lists_the_new_routes(client: httpx.AsyncClient) -> None:
    """Notes, notification reads, the stream, preferences and managers are documented."""
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert {
        "/tickets/{ticket_id}/notes",
        "/notifications/unread-count",
        "/notifications/{notification_id}/read",
        "/notifications/read-all",
        "/notifications/stream",
        "/me/notification-preferences",
        "/admin/departments/{department_id}/managers",
    } <= set(paths)
    assert {"get", "post"} <= set(paths["/tickets/{ticket_id}/notes"])
    assert {"get", "put"} <= set(paths["/me/notification-preferences"])
    stream_parameters = [p["name"] for p in paths["/notifications/stream"]["get"]["parameters"]]
    assert {"Last-Event-ID", "since", "access_token"} <= set(stream_parameters)
