"""The tenant's notification settings: which mailbox notification mail comes from.
Real PostgreSQL; `world` (conftest) holds tenant A (its admin, agents, mailboxes) and B."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from postdesk_runtime import Sessions
from postdesk_schema import AuditLog, Tenant
from sqlalchemy import select, update
from sqlmodel import col

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
URL = "/admin/notification-settings"


@pytest.fixture
async def cleared(sessions: Sessions, world: Any) -> AsyncIterator[None]:
    async def clear() -> None:
        async with sessions() as session, session.begin():
            for tenant in (world.tenant_a, world.tenant_b):
                row = await session.get(Tenant, tenant)
                assert row is not None
                settings = dict(row.settings)
                settings.pop("notifications_from_account_id", None)
                await session.execute(
                    update(Tenant).where(col(Tenant.id) == tenant).values(settings=settings)
                )

    await clear()
    yield
    await clear()


@pytest.mark.usefixtures("cleared")
async def test_an_admin_sets_and_clears_the_sending_mailbox(
    client: httpx.AsyncClient, auth: Auth, sessions: Sessions, world: Any
) -> None:
    support = str(world.accounts["support"].id)
    assert (await client.get(URL, headers=auth("admin"))).json() == {"from_account_id": None}
    saved = await client.put(URL, json={"from_account_id": support}, headers=auth("admin"))
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"from_account_id": support}
    assert (await client.get(URL, headers=auth("admin"))).json() == {"from_account_id": support}
    async with sessions() as session:
        tenant = await session.get(Tenant, world.tenant_a)
        audits = (
            await session.scalars(
                select(AuditLog).where(
                    col(AuditLog.tenant_id) == world.tenant_a,
                    col(AuditLog.action) == "notification_settings.changed",
                )
            )
        ).all()
    assert tenant is not None
    assert tenant.settings["notifications_from_account_id"] == support
    assert [a.detail["new"] for a in audits] == [{"from_account_id": support}]

    cleared = await client.put(URL, json={"from_account_id": None}, headers=auth("admin"))
    assert cleared.json() == {"from_account_id": None}
    # tenant B's setting is its own
    assert (await client.get(URL, headers=auth("admin_b"))).json() == {"from_account_id": None}


@pytest.mark.usefixtures("cleared")
async def test_only_an_active_mailbox_of_the_tenant_and_only_admins(
    client: httpx.AsyncClient, auth: Auth, world: Any
) -> None:
    foreign = str(world.accounts["b_support"].id)
    refused = await client.put(URL, json={"from_account_id": foreign}, headers=auth("admin"))
    assert refused.status_code == 422, refused.text
    unknown_field = await client.put(URL, json={"from": foreign}, headers=auth("admin"))
    assert unknown_field.status_code == 400, unknown_field.text
    for role in ("primary", "backup", "viewer", "unassigned"):
        assert (await client.get(URL, headers=auth(role))).status_code == 403
        put = await client.put(URL, json={"from_account_id": None}, headers=auth(role))
        assert put.status_code == 403
    assert (await client.get(URL, headers=auth("admin"))).json() == {"from_account_id": None}
