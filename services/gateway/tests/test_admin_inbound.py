"""The admin inbound API: domains, generated addresses and IMAP mailboxes (password sealed
with the keyring, never returned); admins only, another tenant's ids 404, writes audited.
Real PostgreSQL.

`world` (conftest) is this module's own: tenant A with mailboxes support, sales and bulk,
tenant B with b_support.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions
from postdesk_runtime.imap_credentials import open_imap_password
from postdesk_schema import AuditLog, ImapMailbox, ImapSyncState
from postdesk_testing.problems import problem_detail
from sqlmodel import col, delete, select

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def no_mailboxes_left(sessions: Sessions, world: Any) -> AsyncIterator[None]:
    """The session's database is shared: a mailbox left active here would be polled by the
    ingest tests' IMAP poller (at a host that does not exist, with this test's keyring)."""
    yield
    async with sessions() as session, session.begin():
        ours = select(col(ImapMailbox.id)).where(
            col(ImapMailbox.tenant_id).in_([world.tenant_a, world.tenant_b])
        )
        await session.execute(delete(ImapSyncState).where(col(ImapSyncState.mailbox_id).in_(ours)))
        await session.execute(delete(ImapMailbox).where(col(ImapMailbox.id).in_(ours)))


Auth = Callable[[str], dict[str, str]]
IMAP_PASSWORD = "imap secret 123"


def body(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def domain() -> str:
    return f"Mail-{uuid.uuid4().hex[:8]}.Example.test"


def imap(account_id: Any, **fields: Any) -> dict[str, Any]:
    return {
        "account_id": str(account_id),
        "host": "imap.example.test",
        "username": "support",
        "password": IMAP_PASSWORD,
    } | fields


async def actions(sessions: Sessions, object_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog)
            .where(col(AuditLog.object_id) == object_id)
            .order_by(col(AuditLog.created_at), col(AuditLog.id))
        )
        return [(row.action, row.detail) for row in rows]


async def test_domains(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Create (lower-cased), list, change the catch-all, delete; taken anywhere is 409;
    another tenant's catch-all mailbox 404; all audited."""
    name = domain()
    created = body(
        await client.post(
            "/admin/inbound-domains",
            json={"domain": name, "catch_all_account_id": str(world.accounts["support"].id)},
            headers=auth("admin"),
        ),
        201,
    )
    assert created["domain"] == name.lower()
    listed = body(await client.get("/admin/inbound-domains", headers=auth("admin")), 200)
    assert created["id"] in {item["id"] for item in listed["items"]}
    problem_detail(
        await client.post(
            "/admin/inbound-domains", json={"domain": name.upper()}, headers=auth("admin_b")
        ),
        409,
    )
    problem_detail(
        await client.post(
            "/admin/inbound-domains",
            json={
                "domain": domain(),
                "catch_all_account_id": str(world.accounts["b_support"].id),
            },
            headers=auth("admin"),
        ),
        404,
    )
    problem_detail(
        await client.post(
            "/admin/inbound-domains", json={"domain": "not a domain"}, headers=auth("admin")
        ),
        400,
    )
    url = f"/admin/inbound-domains/{created['id']}"
    changed = body(
        await client.patch(url, json={"catch_all_account_id": None}, headers=auth("admin")), 200
    )
    assert changed["catch_all_account_id"] is None
    assert (await client.delete(url, headers=auth("admin"))).status_code == 204
    assert [a for a, _ in await actions(sessions, created["id"])] == [
        "inbound_domain.created",
        "inbound_domain.updated",
        "inbound_domain.deleted",
    ]


async def test_addresses(client: httpx.AsyncClient, auth: Auth, world: Any) -> None:
    """Create, repoint, deactivate, delete; 409 when taken; another tenant's mailbox 404."""
    address = f"T-{uuid.uuid4().hex[:8]}@In.Postdesk.test"
    created = body(
        await client.post(
            "/admin/inbound-addresses",
            json={"address": address, "account_id": str(world.accounts["support"].id)},
            headers=auth("admin"),
        ),
        201,
    )
    assert created["address"] == address.lower()
    problem_detail(
        await client.post(
            "/admin/inbound-addresses",
            json={"address": address, "account_id": str(world.accounts["b_support"].id)},
            headers=auth("admin_b"),
        ),
        409,
    )
    url = f"/admin/inbound-addresses/{created['id']}"
    problem_detail(
        await client.patch(
            url, json={"account_id": str(world.accounts["b_support"].id)}, headers=auth("admin")
        ),
        404,
    )
    changed = body(
        await client.patch(
            url,
            json={"account_id": str(world.accounts["sales"].id), "is_active": False},
            headers=auth("admin"),
        ),
        200,
    )
    assert (changed["account_id"], changed["is_active"]) == (str(world.accounts["sales"].id), False)
    problem_detail(await client.patch(url, json={"account_id": None}, headers=auth("admin")), 422)
    assert (await client.delete(url, headers=auth("admin"))).status_code == 204
    listed = body(await client.get("/admin/inbound-addresses", headers=auth("admin")), 200)
    assert created["id"] not in {item["id"] for item in listed["items"]}


async def test_imap_password_sealed_and_never_returned(
    client: httpx.AsyncClient,
    auth: Auth,
    world: Any,
    sessions: Sessions,
    settings: GatewaySettings,
) -> None:
    """The stored password opens with the keyring to what was sent; no answer or audit row
    contains it; a new password replaces it."""
    created = await client.post(
        "/admin/imap-mailboxes", json=imap(world.accounts["support"].id), headers=auth("admin")
    )
    view = body(created, 201)
    assert IMAP_PASSWORD not in created.text
    assert "password" not in view
    async with sessions() as session:
        row = await session.get(ImapMailbox, uuid.UUID(view["id"]))
    assert row is not None
    assert IMAP_PASSWORD not in row.password_ciphertext
    assert open_imap_password(settings.keyring(), row.password_ciphertext) == IMAP_PASSWORD
    url = f"/admin/imap-mailboxes/{view['id']}"
    for response in (
        await client.get(url, headers=auth("admin")),
        await client.get("/admin/imap-mailboxes", headers=auth("admin")),
        await client.patch(url, json={"password": "another one"}, headers=auth("admin")),
    ):
        assert response.status_code == 200, response.text
        assert "password" not in response.text
    async with sessions() as session:
        row = await session.get(ImapMailbox, uuid.UUID(view["id"]))
    assert row is not None
    assert open_imap_password(settings.keyring(), row.password_ciphertext) == "another one"
    trail = await actions(sessions, view["id"])
    assert [a for a, _ in trail] == ["imap_mailbox.created", "imap_mailbox.updated"]
    assert IMAP_PASSWORD not in str(trail)
    assert "another one" not in str(trail)


async def test_imap_validation_and_delete(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """after_action move needs a folder (422); bad values 400; another tenant's mailbox
    404; a mailbox ingest has read is kept (409) until deactivated, a fresh one deleted."""
    support = world.accounts["support"].id
    for fields, status in (
        ({"after_action": "move"}, 422),
        ({"move_to_folder": "Done"}, 422),
        ({"after_action": "delete"}, 400),
        ({"security": "tls"}, 400),
        ({"port": 0}, 400),
        ({"password_ciphertext": "x"}, 400),
    ):
        problem_detail(
            await client.post(
                "/admin/imap-mailboxes", json=imap(support, **fields), headers=auth("admin")
            ),
            status,
        )
    problem_detail(
        await client.post(
            "/admin/imap-mailboxes",
            json=imap(world.accounts["b_support"].id),
            headers=auth("admin"),
        ),
        404,
    )
    moved = body(
        await client.post(
            "/admin/imap-mailboxes",
            json=imap(support, after_action="move", move_to_folder="Done"),
            headers=auth("admin"),
        ),
        201,
    )
    url = f"/admin/imap-mailboxes/{moved['id']}"
    problem_detail(
        await client.patch(url, json={"move_to_folder": None}, headers=auth("admin")), 422
    )
    async with sessions() as session, session.begin():
        session.add(ImapSyncState(mailbox_id=uuid.UUID(moved["id"]), last_uid=5))
    problem_detail(await client.delete(url, headers=auth("admin")), 409)
    assert (
        body(await client.patch(url, json={"is_active": False}, headers=auth("admin")), 200)[
            "is_active"
        ]
        is False
    )
    fresh = body(
        await client.post("/admin/imap-mailboxes", json=imap(support), headers=auth("admin")), 201
    )
    fresh_url = f"/admin/imap-mailboxes/{fresh['id']}"
    assert (await client.delete(fresh_url, headers=auth("admin"))).status_code == 204
    problem_detail(await client.get(fresh_url, headers=auth("admin")), 404)


async def test_members_refused_and_tenants_apart(
    client: httpx.AsyncClient, auth: Auth, world: Any
) -> None:
    """Members get 403 everywhere; B's admin gets 404 for A's rows and does not list them."""
    support = world.accounts["support"].id
    payloads = {
        "/admin/inbound-domains": {"domain": domain()},
        "/admin/inbound-addresses": {
            "address": f"x-{uuid.uuid4().hex[:8]}@in.test",
            "account_id": str(support),
        },
        "/admin/imap-mailboxes": imap(support),
    }
    rows = {
        base: body(await client.post(base, json=payload, headers=auth("admin")), 201)["id"]
        for base, payload in payloads.items()
    }
    for base, row_id in rows.items():
        for role in ("primary", "viewer"):
            problem_detail(await client.get(base, headers=auth(role)), 403)
            problem_detail(await client.post(base, json=payloads[base], headers=auth(role)), 403)
            problem_detail(await client.patch(f"{base}/{row_id}", json={}, headers=auth(role)), 403)
            problem_detail(await client.delete(f"{base}/{row_id}", headers=auth(role)), 403)
        problem_detail(
            await client.patch(f"{base}/{row_id}", json={}, headers=auth("admin_b")), 404
        )
        problem_detail(await client.delete(f"{base}/{row_id}", headers=auth("admin_b")), 404)
        listed = body(await client.get(base, headers=auth("admin_b")), 200)
        assert row_id not in {item["id"] for item in listed["items"]}
        body(await client.patch(f"{base}/{row_id}", json={}, headers=auth("admin")), 200)
