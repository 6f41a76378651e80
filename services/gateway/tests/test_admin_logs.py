"""The admin log API: processing log and audit log, filtered, keyset-paged newest first,
tenant-scoped, read-only; admins only. Real PostgreSQL.

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
import pytest_asyncio
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, EmailProcessingLog
from postdesk_testing.problems import problem_detail

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
BASE = datetime(2024, 6, 1, tzinfo=UTC)


def body(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def log_row(tenant: uuid.UUID | None, minute: int, **fields: Any) -> EmailProcessingLog:
    values: dict[str, Any] = {
        "tenant_id": tenant,
        "stage": "router",
        "dedupe_key": uuid.uuid4().hex,
        "status": "routed",
        "sha256": "0" * 64,
        "raw_blob_ref": "sha256:" + "0" * 64,
        "message_id_header": f"m{minute}-{uuid.uuid4().hex[:6]}@client.test",
        # Two rows share each timestamp, so paging must break ties by id.
        "created_at": BASE + timedelta(minutes=minute // 2),
        "updated_at": BASE + timedelta(minutes=minute // 2),
    }
    return EmailProcessingLog(**(values | fields))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def seeded(sessions: Sessions, world: Any) -> dict[str, Any]:
    """Seven processing rows of A (one parser rejection), one of B, one without tenant; five
    audit rows of A by two actors and one of B, all in June 2024."""
    a, b = world.tenant_a, world.tenant_b
    rows = [log_row(a, minute) for minute in range(6)]
    rejected = log_row(a, 20, stage="parser", status="rejected", detail="no From")
    others = [log_row(b, 3), log_row(None, 3)]
    admin, primary = world.users["admin"].id, world.users["primary"].id
    audits = [
        AuditLog(
            tenant_id=a,
            actor_user_id=admin if i % 2 else primary,
            action="ticket.read",
            object_type="ticket",
            object_id=f"t-{world.suffix}-{i}",
            created_at=BASE + timedelta(minutes=i // 2),
        )
        for i in range(5)
    ]
    audits.append(
        AuditLog(
            tenant_id=b,
            actor_user_id=world.users["admin_b"].id,
            action="ticket.read",
            object_type="ticket",
            object_id=f"t-{world.suffix}-b",
            created_at=BASE,
        )
    )
    async with sessions() as session, session.begin():
        session.add_all([*rows, rejected, *others, *audits])
    return {"rows": rows, "rejected": rejected, "audits": audits}


async def pages(client: httpx.AsyncClient, auth: Auth, url: str, role: str = "admin") -> list[Any]:
    """Every item behind `url`, following next_cursor two at a time."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = body(
            await client.get(
                url,
                params={"limit": 2} | ({"cursor": cursor} if cursor else {}),
                headers=auth(role),
            ),
            200,
        )
        assert len(page["items"]) <= 2
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


JUNE = f"?since={BASE.isoformat()}&until={(BASE + timedelta(days=1)).isoformat()}".replace(
    "+", "%2B"
)


async def test_processing_log_pages_newest_first_within_the_tenant(
    client: httpx.AsyncClient, auth: Auth, seeded: dict[str, Any]
) -> None:
    """Keyset pages, ties broken by id, give each of the tenant's rows once, newest first;
    B's rows and rows without a tenant never appear."""
    items = await pages(client, auth, "/admin/processing-logs" + JUNE)
    expected = sorted(
        [*seeded["rows"], seeded["rejected"]], key=lambda r: (r.created_at, r.id), reverse=True
    )
    assert [item["id"] for item in items] == [str(row.id) for row in expected]


async def test_processing_log_filters(
    client: httpx.AsyncClient, auth: Auth, seeded: dict[str, Any]
) -> None:
    """Stage, status, message id and time range narrow the list; bad ranges are 400."""
    rejected = seeded["rejected"]
    found = body(
        await client.get(
            "/admin/processing-logs" + JUNE + "&stage=parser&status=rejected", headers=auth("admin")
        ),
        200,
    )
    assert [(i["id"], i["detail"]) for i in found["items"]] == [(str(rejected.id), "no From")]
    one = seeded["rows"][0]
    by_message = body(
        await client.get(
            "/admin/processing-logs",
            params={"message_id": one.message_id_header},
            headers=auth("admin"),
        ),
        200,
    )
    assert [i["id"] for i in by_message["items"]] == [str(one.id)]
    early = body(
        await client.get(
            "/admin/processing-logs",
            params={"since": BASE.isoformat(), "until": (BASE + timedelta(minutes=1)).isoformat()},
            headers=auth("admin"),
        ),
        200,
    )
    assert {i["id"] for i in early["items"]} == {str(r.id) for r in seeded["rows"][:2]}
    problem_detail(
        await client.get(
            "/admin/processing-logs",
            params={"since": (BASE + timedelta(days=1)).isoformat(), "until": BASE.isoformat()},
            headers=auth("admin"),
        ),
        400,
    )
    problem_detail(await client.get("/admin/processing-logs?cursor=x", headers=auth("admin")), 400)
    problem_detail(
        await client.get("/admin/processing-logs?stage=a%00", headers=auth("admin")), 400
    )
    problem_detail(await client.get("/admin/audit-log?object_id=a%00", headers=auth("admin")), 400)
    problem_detail(
        await client.get("/admin/audit-log?since=2024-06-01T00:00:00", headers=auth("admin")), 400
    )
    for unix_time in ("1717200000", "1717200000.5"):  # no date-time, though msgspec reads one
        problem_detail(
            await client.get(f"/admin/audit-log?until={unix_time}", headers=auth("admin")), 400
        )
        problem_detail(
            await client.get(f"/admin/processing-logs?since={unix_time}", headers=auth("admin")),
            400,
        )


async def test_audit_log_filters_and_pages(
    client: httpx.AsyncClient, auth: Auth, world: Any, seeded: dict[str, Any]
) -> None:
    """Actor, action and object filters; pages newest first; B's rows never shown to A."""
    audits = [row for row in seeded["audits"] if row.tenant_id == world.tenant_a]
    items = await pages(client, auth, "/admin/audit-log" + JUNE + "&action=ticket.read")
    expected = sorted(audits, key=lambda r: (r.created_at, r.id), reverse=True)
    assert [item["id"] for item in items] == [str(row.id) for row in expected]
    by_actor = body(
        await client.get(
            "/admin/audit-log" + JUNE + f"&actor_user_id={world.users['primary'].id}",
            headers=auth("admin"),
        ),
        200,
    )
    assert {i["object_id"] for i in by_actor["items"]} == {
        f"t-{world.suffix}-{i}" for i in (0, 2, 4)
    }
    b_row = body(
        await client.get(
            "/admin/audit-log", params={"object_id": f"t-{world.suffix}-b"}, headers=auth("admin")
        ),
        200,
    )
    assert b_row["items"] == []


async def test_admin_writes_appear_in_the_audit_log(
    client: httpx.AsyncClient, auth: Auth, world: Any
) -> None:
    """A department created through the API is found by object id, with actor and IP."""
    created = body(
        await client.post(
            "/admin/departments", json={"name": f"Logged {world.suffix}"}, headers=auth("admin")
        ),
        201,
    )
    found = body(
        await client.get(
            "/admin/audit-log", params={"object_id": created["id"]}, headers=auth("admin")
        ),
        200,
    )
    (entry,) = found["items"]
    assert (entry["action"], entry["actor_user_id"], entry["ip"]) == (
        "department.created",
        str(world.users["admin"].id),
        "127.0.0.1",
    )
    assert entry["detail"]["new"]["name"] == f"Logged {world.suffix}"


async def test_members_refused_and_the_audit_log_is_append_only(
    client: httpx.AsyncClient, auth: Auth, seeded: dict[str, Any]
) -> None:
    """Members get 403; there is no route that changes or deletes an audit row."""
    for role in ("primary", "viewer"):
        problem_detail(await client.get("/admin/audit-log", headers=auth(role)), 403)
        problem_detail(await client.get("/admin/processing-logs", headers=auth(role)), 403)
    entry = seeded["audits"][0].id
    for method in ("DELETE", "PATCH", "PUT"):
        response = await client.request(method, "/admin/audit-log", headers=auth("admin"))
        assert response.status_code == 405
        response = await client.request(method, f"/admin/audit-log/{entry}", headers=auth("admin"))
        assert response.status_code == 404
