"""Mass assignment: fields a request model does not have, sent anyway, are refused or ignored.

Attack: every write operation of the OpenAPI document (a JSON body), called by the admin and
by the least-privileged role the matrix allows, with a valid body plus every field of
`HOSTILE` the request model lacks: another tenant's `tenant_id`, owner and row ids (its
admin, mailbox, ticket), a made-up `id`, back-dated `created_at`/`updated_at`/`deleted_at`,
`role: admin`, `is_admin`, `is_active: false`, a password hash, scopes, counters.
Pass: every answer is a 4xx (most admin models forbid unknown fields: 400) or a success
(the inbox's models ignore them) that changed nothing it should not: no row of
either tenant holds the made-up id, the back-dated time or (outside the audit log) an id of
B; B's rows are unchanged; A has the same admins, and the same inactive users, mailboxes
and assignments (but where the request's own body deactivates something); the callers'
own rows keep their role, tenant and state. Also: a backup without can_assign_others
assigning a colleague is 403 and the ticket keeps its assignee.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from postdesk_gateway.settings import GatewaySettings
from postdesk_runtime import Sessions, make_blob_store
from postdesk_schema import EmailAccount, EmailAssignment, Ticket, User
from sqlalchemy import text
from sqlmodel import SQLModel, col, func, select

from tests.security.access_probe import Endpoint, endpoints, probe, state
from tests.security.access_world import ROLES, AccessWorld, build_world
from tests.security.role_matrix import RULES

pytestmark = pytest.mark.integration

BACKDATED = "2001-02-03T04:05:06Z"
WRITES = {"POST", "PUT", "PATCH"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(
    sessions: Sessions, client: httpx.AsyncClient, settings: GatewaySettings
) -> AccessWorld:
    return await build_world(sessions, client, make_blob_store(settings))


def hostile(world: AccessWorld, b_rows: dict[str, uuid.UUID], made_up: uuid.UUID) -> dict[str, Any]:
    b_admin = str(world.b.users["admin"].id)
    return {
        "tenant_id": str(world.b.id),
        "id": str(made_up),
        "created_at": BACKDATED,
        "updated_at": BACKDATED,
        "deleted_at": BACKDATED,
        "role": "admin",
        "is_admin": True,
        "is_active": False,
        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$forged",
        "password_changed_at": BACKDATED,
        "scopes": ["admin:write", "webhooks:manage"],
        "created_by": b_admin,
        "requested_by": b_admin,
        "assigned_by": b_admin,
        "owner_user_id": b_admin,
        "acts_as_user_id": b_admin,
        "user_id": b_admin,
        "actor_user_id": b_admin,
        "account_id": str(b_rows["account_id"]),
        "ticket_id": str(b_rows["ticket_id"]),
        "message_id": str(b_rows["message_id"]),
        "merged_into_id": str(b_rows["ticket_id"]),
        "number": 1,
        "message_count": 999,
    }


def callers(endpoint: Endpoint) -> list[str]:
    """The admin and the least-privileged role the matrix lets call `endpoint`."""
    allowed = [role for role in ROLES if role in RULES[endpoint.operation].allowed]
    return list(dict.fromkeys(r for r in ("admin", allowed[-1]) if r in allowed))


async def tally(sessions: Sessions, tenant_id: uuid.UUID) -> dict[str, int]:
    """A's admins and its inactive users, mailboxes and assignments."""
    queries = {
        "admins": select(func.count())
        .select_from(User)
        .where(col(User.tenant_id) == tenant_id, col(User.role) == "admin"),
        "inactive users": select(func.count())
        .select_from(User)
        .where(col(User.tenant_id) == tenant_id, col(User.is_active).is_(False)),
        "inactive mailboxes": select(func.count())
        .select_from(EmailAccount)
        .where(col(EmailAccount.tenant_id) == tenant_id, col(EmailAccount.is_active).is_(False)),
        "inactive assignments": select(func.count())
        .select_from(EmailAssignment)
        .where(
            col(EmailAssignment.tenant_id) == tenant_id,
            col(EmailAssignment.is_active).is_(False),
        ),
    }
    async with sessions() as session:
        return {name: int(await session.scalar(query) or 0) for name, query in queries.items()}


async def rows_holding(
    sessions: Sessions, tenants: list[uuid.UUID], needles: list[str]
) -> list[str]:
    """Tables (but the audit log) with a row of `tenants` whose text holds one of `needles`."""
    found = []
    async with sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            column = "id" if table.name == "tenants" else "tenant_id"
            if column not in table.c or table.name == "audit_log":
                continue
            for needle in needles:
                hits = await session.scalar(
                    text(
                        f"SELECT count(*) FROM {table.name} t WHERE {column} = ANY(:tenants) "  # noqa: S608  # table names from the metadata
                        "AND strpos(to_jsonb(t)::text, :needle) > 0"
                    ),
                    {"tenants": tenants, "needle": needle},
                )
                if hits:
                    found.append(f"{table.name} holds {needle}")
    return found


async def test_fields_outside_the_request_model_are_refused_or_ignored(
    client: httpx.AsyncClient, sessions: Sessions, world: AccessWorld, app: Litestar
) -> None:
    """Every write with every hostile field its model lacks: nothing of it takes effect."""
    writes = [
        e
        for e in endpoints(app.openapi_schema.to_schema())
        if e.method in WRITES
        and isinstance(e.body, dict)
        and e.operation in RULES
        and not RULES[e.operation].mutates_caller  # a password change: test_tokens.py
    ]
    foreign = await world.targets(world.b, staffed=False)
    b_before = await state(sessions, world.b.id)
    a_before = await tally(sessions, world.a.id)
    made_up: dict[str, str] = {}
    failures = []
    accepted = 0
    for endpoint in writes:
        for role in callers(endpoint):
            rows = await world.targets(world.a, staffed=True)
            sent = probe(endpoint, rows, rows, world.a.users[role].id)
            key = f"[{role}] {endpoint.method} {endpoint.path}"
            made_up[key] = str(uuid.uuid4())
            extra = hostile(world, foreign.ids, uuid.UUID(made_up[key]))
            body = sent.json | {k: v for k, v in extra.items() if k not in endpoint.fields}
            response = await client.request(
                sent.method, sent.url, json=body, headers=world.headers(role)
            )
            if response.status_code >= 500 or response.status_code == 401:
                failures.append(f"{key}: {response.status_code}")
            accepted += response.is_success
            deactivates = (
                isinstance(endpoint.body, dict) and endpoint.body.get("is_active") is False
            )
            if not deactivates and (now := await tally(sessions, world.a.id)) != a_before:
                failures.append(f"{key}: {a_before} -> {now}")
                a_before = now
    b_ids = [str(world.b.id), str(world.b.users["admin"].id), *map(str, foreign.ids.values())]
    held = await rows_holding(sessions, [world.a.id], [BACKDATED[:10], *b_ids])
    held += await rows_holding(sessions, [world.a.id, world.b.id], list(made_up.values()))
    by_id = {v: k for k, v in made_up.items()}
    failures += [f"{h} ({by_id.get(h.rsplit(' ', 1)[-1], 'a B id')})" for h in held]
    if await state(sessions, world.b.id) != b_before:
        failures.append("B's rows changed")
    async with sessions() as session:
        staff = (await session.scalars(select(User).where(col(User.tenant_id) == world.a.id))).all()
    for user in staff:
        if user.id in {u.id for u in world.a.users.values()}:
            role = "admin" if user.id == world.a.users["admin"].id else "member"
            if (str(user.role), user.is_active) != (role, True):
                failures.append(f"{user.email} is now {user.role}, active {user.is_active}")
    assert not failures, "\n".join(failures)
    assert len(writes) >= 30
    assert accepted >= 5  # models that ignore unknown fields were reached, not only refusals


async def test_a_backup_cannot_assign_a_colleague(
    client: httpx.AsyncClient, sessions: Sessions, world: AccessWorld
) -> None:
    """assignee_id is in the model, but assigning someone else needs can_assign_others."""
    rows = await world.targets(world.a, staffed=True)
    ticket = rows.ids["ticket_id"]
    colleague = str(world.a.users["primary"].id)
    response = await client.patch(
        f"/tickets/{ticket}", headers=world.headers("backup"), json={"assignee_id": colleague}
    )
    assert response.status_code == 403
    async with sessions() as session:
        assert (await session.get(Ticket, ticket)).assignee_id is None  # type: ignore[union-attr]
    taken = await client.patch(
        f"/tickets/{ticket}",
        headers=world.headers("backup"),
        json={"assignee_id": str(world.a.users["backup"].id)},
    )
    assert taken.status_code == 200  # the control: taking it yourself is a backup's right
