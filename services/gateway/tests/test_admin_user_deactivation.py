"""Deactivating a user with their open tickets kept, unassigned or reassigned: each ticket
changed like a manual reassignment (history, audit row, outbox event), all in the
deactivation's transaction, and the refusals that change nothing. Real PostgreSQL.

`world` (conftest) is this module's own; every test adds its own leaving user and tickets,
so tests do not depend on each other's deactivations.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from postdesk_contracts.api_ticket_live import TICKET_EVENTS_CHANNEL, TicketChangeNotice
from postdesk_gateway.live import asyncpg_dsn
from postdesk_gateway.ticket_handover import BATCH
from postdesk_runtime import Sessions
from postdesk_schema import (
    AssignmentRole,
    AuditLog,
    EmailAssignment,
    OutboxEvent,
    Ticket,
    TicketHistory,
    TicketStatus,
    User,
)
from sqlmodel import col, select

from .conftest import make_ticket, make_user

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
_numbers = itertools.count(50_000)


@dataclass
class Leaver:
    """A member of tenant A about to leave, with tickets on the world's mailboxes."""

    user: User
    open_ids: list[uuid.UUID]  # open or pending, assigned to them
    kept_ids: list[uuid.UUID]  # resolved, closed or deleted: never handed over


async def seed_leaver(
    sessions: Sessions, world: Any, *, open_on: tuple[str, ...] = ("support",)
) -> Leaver:
    """A primary on `support` and `bulk`; per mailbox of `open_on` an open and a pending
    ticket, plus a resolved, a closed and a deleted open ticket on `support`."""
    tenant = world.tenant_a
    user = make_user(tenant, f"leaver-{uuid.uuid4().hex[:6]}", world.suffix)
    accounts = world.accounts
    assignments = [
        EmailAssignment(tenant_id=tenant, account_id=accounts[name].id, user_id=user.id, role=role)
        for name, role in (("support", AssignmentRole.PRIMARY), ("bulk", AssignmentRole.BACKUP))
    ]

    def ticket(account: str, **fields: Any) -> Ticket:
        return make_ticket(
            tenant, accounts[account].id, next(_numbers), assignee_id=user.id, **fields
        )

    opened = [
        ticket(name, status=status)
        for name in open_on
        for status in (TicketStatus.OPEN, TicketStatus.PENDING)
    ]
    kept = [
        ticket("support", status=TicketStatus.RESOLVED),
        ticket("support", status=TicketStatus.CLOSED),
        ticket("support", deleted_at=world.tickets["support_1"].created_at),
    ]
    async with sessions() as session:
        session.add(user)
        await session.flush()
        session.add_all(assignments)
        session.add_all([*opened, *kept])
        await session.commit()
    return Leaver(user, [t.id for t in opened], [t.id for t in kept])


async def deactivate(
    client: httpx.AsyncClient, auth: Auth, user_id: uuid.UUID, payload: Any, status: int
) -> Any:
    response = await client.post(
        f"/admin/users/{user_id}/deactivate", json=payload, headers=auth("admin")
    )
    assert response.status_code == status, response.text
    return response.json()


async def assignees(sessions: Sessions, ids: list[uuid.UUID]) -> set[uuid.UUID | None]:
    async with sessions() as session:
        rows = await session.scalars(select(Ticket.assignee_id).where(col(Ticket.id).in_(ids)))
        return set(rows.all())


async def is_active(sessions: Sessions, user_id: uuid.UUID) -> bool:
    async with sessions() as session:
        found = await session.get(User, user_id)
    assert found is not None
    return found.is_active


async def outbox(sessions: Sessions, ticket_id: uuid.UUID) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                col(OutboxEvent.service) == "gateway",
                col(OutboxEvent.body).contains(str(ticket_id)),
            )
        )
        return [json.loads(row.body) for row in rows.all()]


async def audit_rows(sessions: Sessions, object_id: uuid.UUID, action: str) -> list[AuditLog]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog).where(
                col(AuditLog.object_id) == str(object_id), col(AuditLog.action) == action
            )
        )
        return list(rows.all())


async def history(sessions: Sessions, ticket_id: uuid.UUID) -> list[TicketHistory]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketHistory).where(col(TicketHistory.ticket_id) == ticket_id)
        )
        return list(rows.all())


async def test_no_body_keeps_the_tickets(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Without a body (today's clients) the open tickets stay assigned and both counts are 0;
    `keep` answers the same."""
    for payload in (None, {"open_tickets": "keep"}):
        leaver = await seed_leaver(sessions, world)
        done = await deactivate(client, auth, leaver.user.id, payload, 200)
        assert done["is_active"] is False
        assert (done["tickets_reassigned"], done["tickets_unassigned"]) == (0, 0)
        assert await assignees(sessions, leaver.open_ids) == {leaver.user.id}
        assert await outbox(sessions, leaver.open_ids[0]) == []


async def test_reassign_moves_every_open_ticket_like_a_manual_assignment(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Open and pending tickets go to the target, each with a ticket.assigned event, an
    `assigned` history row and a ticket.updated audit row; resolved, closed and deleted
    tickets keep their assignee; the user.deactivated audit row records the choice."""
    leaver = await seed_leaver(sessions, world)
    target = world.users["backup"].id
    done = await deactivate(
        client,
        auth,
        leaver.user.id,
        {"open_tickets": "reassign", "reassign_to": str(target)},
        200,
    )
    assert (done["tickets_reassigned"], done["tickets_unassigned"]) == (2, 0)
    assert await assignees(sessions, leaver.open_ids) == {target}
    assert await assignees(sessions, leaver.kept_ids) == {leaver.user.id}
    for ticket_id in leaver.open_ids:
        (event,) = await outbox(sessions, ticket_id)
        assert event["type"] == "ticket.assigned"
        assert event["payload"]["assignee_id"] == str(target)
        assert event["payload"]["previous_assignee_id"] == str(leaver.user.id)
        assert event["payload"]["assigned_by"] == str(world.users["admin"].id)
        (row,) = await history(sessions, ticket_id)
        assert (row.kind, row.event_id) == ("assigned", uuid.UUID(event["id"]))
        (audit,) = await audit_rows(sessions, ticket_id, "ticket.updated")
        assert audit.detail["changes"] == [
            {"field": "assignee_id", "old": str(leaver.user.id), "new": str(target)}
        ]
    for ticket_id in leaver.kept_ids:
        assert await outbox(sessions, ticket_id) == []
    (deactivated,) = await audit_rows(sessions, leaver.user.id, "user.deactivated")
    assert deactivated.detail["new"] == {
        "is_active": False,
        "open_tickets": "reassign",
        "reassign_to": str(target),
        "tickets_changed": 2,
    }


async def test_unassign_leaves_the_open_tickets_to_the_mailbox(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Open tickets lose their assignee, each with a ticket.updated event of the change."""
    leaver = await seed_leaver(sessions, world, open_on=("support", "sales"))
    done = await deactivate(client, auth, leaver.user.id, {"open_tickets": "unassign"}, 200)
    assert (done["tickets_reassigned"], done["tickets_unassigned"]) == (0, 4)
    assert await assignees(sessions, leaver.open_ids) == {None}
    assert await assignees(sessions, leaver.kept_ids) == {leaver.user.id}
    (event,) = await outbox(sessions, leaver.open_ids[0])
    assert event["type"] == "ticket.updated"
    assert event["payload"]["changes"] == [
        {"field": "assignee_id", "old": str(leaver.user.id), "new": None}
    ]
    assert len(await audit_rows(sessions, leaver.open_ids[0], "ticket.updated")) == 1


async def test_reassign_is_batched_over_many_tickets(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """More open tickets than one batch all move, each with its own event."""
    leaver = await seed_leaver(sessions, world)
    extra = [
        make_ticket(
            world.tenant_a, world.accounts["bulk"].id, next(_numbers), assignee_id=leaver.user.id
        )
        for _ in range(BATCH + 3)
    ]
    async with sessions() as session:
        session.add_all(extra)
        await session.commit()
    target = world.users["primary"].id  # primary on support and bulk
    payload = {"open_tickets": "reassign", "reassign_to": str(target)}
    done = await deactivate(client, auth, leaver.user.id, payload, 200)
    assert done["tickets_reassigned"] == BATCH + 5
    assert await assignees(sessions, [t.id for t in extra]) == {target}
    assert len(await outbox(sessions, extra[-1].id)) == 1


@pytest.mark.parametrize(
    ("target", "refusal"),
    [
        ("inactive", "must be an active user of your tenant"),
        ("admin_b", "must be an active user of your tenant"),
        ("viewer", "may not be assignee of 4 of the open tickets"),  # a viewer on support
        ("backup", "may not be assignee of 2 of the open tickets"),  # not on bulk
        ("leaver", "cannot be the user being deactivated"),
    ],
)
async def test_an_unfit_target_refuses_everything(
    client: httpx.AsyncClient,
    auth: Auth,
    world: Any,
    sessions: Sessions,
    target: str,
    refusal: str,
) -> None:
    """422 naming why, and nothing changes: the user stays active, no ticket moves, no event
    and no audit row is written."""
    leaver = await seed_leaver(sessions, world, open_on=("support", "bulk"))
    target_id = leaver.user.id if target == "leaver" else world.users[target].id
    payload = {"open_tickets": "reassign", "reassign_to": str(target_id)}
    found = await deactivate(client, auth, leaver.user.id, payload, 422)
    assert refusal in found["detail"]
    assert await is_active(sessions, leaver.user.id)
    assert await assignees(sessions, leaver.open_ids) == {leaver.user.id}
    assert await outbox(sessions, leaver.open_ids[0]) == []
    assert await audit_rows(sessions, leaver.user.id, "user.deactivated") == []


async def test_the_refusal_names_the_tickets(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """The 422 lists the numbers of the tickets the target may not take (backup's
    assignment on sales is inactive)."""
    leaver = await seed_leaver(sessions, world, open_on=("support", "sales"))
    async with sessions() as session:
        rows = await session.scalars(
            select(Ticket.number).where(
                col(Ticket.id).in_(leaver.open_ids),
                col(Ticket.account_id) == world.accounts["sales"].id,
            )
        )
        numbers = sorted(rows.all())
    payload = {"open_tickets": "reassign", "reassign_to": str(world.users["backup"].id)}
    detail = (await deactivate(client, auth, leaver.user.id, payload, 422))["detail"]
    assert f"#{numbers[0]}, #{numbers[1]};" in detail
    assert "may not be assignee of 2 of the open tickets" in detail


async def test_malformed_choices_and_yourself_are_refused(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """reassign without a target, a target without reassign, an unknown choice: 400;
    deactivating yourself: 422, whatever the choice."""
    leaver = await seed_leaver(sessions, world)
    target = str(world.users["backup"].id)
    for payload in (
        {"open_tickets": "reassign"},
        {"open_tickets": "unassign", "reassign_to": target},
        {"open_tickets": "give_away"},
    ):
        await deactivate(client, auth, leaver.user.id, payload, 400)
    assert await is_active(sessions, leaver.user.id)
    me = world.users["admin"].id
    payload = {"open_tickets": "reassign", "reassign_to": target}
    found = await deactivate(client, auth, me, payload, 422)
    assert "yourself" in found["detail"]


async def test_an_inactive_user_changes_nothing(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions
) -> None:
    """Deactivating an already inactive user hands nothing over (counts 0), even when asked."""
    leaver = await seed_leaver(sessions, world)
    await deactivate(client, auth, leaver.user.id, None, 200)
    done = await deactivate(client, auth, leaver.user.id, {"open_tickets": "unassign"}, 200)
    assert (done["tickets_reassigned"], done["tickets_unassigned"]) == (0, 0)
    assert await assignees(sessions, leaver.open_ids) == {leaver.user.id}


async def test_open_ticket_views_hear_of_each_handed_over_ticket(
    client: httpx.AsyncClient, auth: Auth, world: Any, sessions: Sessions, database_url: str
) -> None:
    """On commit, one ticket change notice per handed-over ticket reaches the channel every
    gateway replica's ticket streams listen on."""
    leaver = await seed_leaver(sessions, world)
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await listener.add_listener(TICKET_EVENTS_CHANNEL, lambda *args: heard.put_nowait(args[3]))
        await deactivate(client, auth, leaver.user.id, {"open_tickets": "unassign"}, 200)
        notices = [
            TicketChangeNotice.model_validate_json(await asyncio.wait_for(heard.get(), timeout=5))
            for _ in leaver.open_ids
        ]
    finally:
        await listener.close()
    assert {(n.tenant_id, n.ticket_id, n.change) for n in notices} == {
        (world.tenant_a, ticket_id, "updated") for ticket_id in leaver.open_ids
    }
