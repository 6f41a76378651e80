"""Agent actions on a ticket through the gateway, on the real database and broker.

PATCH /tickets/{id} with an assignee and tags (ticket.assigned and
ticket.updated through the outbox, history, audit), DELETE /tickets/{id}
(soft delete) and POST /tickets/{id}/merge. In this module's world the primary may assign others on
`support`; the backup may not, and nobody but the admin may delete.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from postdesk_runtime import Sessions
from postdesk_schema import (
    AuditLog,
    EmailAssignment,
    Message,
    OutboxEvent,
    Ticket,
    TicketHistory,
)
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
_numbers = itertools.count(2000)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rights(world: Any, sessions: Sessions) -> None:
    """The primary's assignment on support may assign others."""
    async with sessions() as session, session.begin():
        assignment = (
            await session.scalars(
                select(EmailAssignment).where(
                    col(EmailAssignment.user_id) == world.users["primary"].id,
                    col(EmailAssignment.account_id) == world.accounts["support"].id,
                )
            )
        ).one()
        assignment.can_assign_others = True


async def new_ticket(
    sessions: Sessions, world: Any, account: str = "support", **values: Any
) -> Ticket:
    mailbox = world.accounts[account]
    number = next(_numbers)
    defaults: dict[str, Any] = {
        "subject": f"Act on me {number}",
        "customer_email": f"customer{number}@client.test",
    }
    ticket = Ticket(
        tenant_id=mailbox.tenant_id, number=number, account_id=mailbox.id, **(defaults | values)
    )
    async with sessions() as session, session.begin():
        session.add(ticket)
    return ticket


async def stored(sessions: Sessions, ticket_id: uuid.UUID) -> Ticket:
    async with sessions() as session:
        found = await session.get(Ticket, ticket_id)
    assert found is not None
    return found


async def events(sessions: Sessions, ticket_id: uuid.UUID, kind: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(
                col(OutboxEvent.service) == "gateway",
                col(OutboxEvent.routing_key) == kind,
                col(OutboxEvent.body).contains(str(ticket_id)),
            )
            .order_by(col(OutboxEvent.created_at))
        )
        return [json.loads(row.body) for row in rows.all()]


async def history(sessions: Sessions, ticket_id: uuid.UUID) -> list[TicketHistory]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketHistory)
            .where(col(TicketHistory.ticket_id) == ticket_id)
            .order_by(col(TicketHistory.created_at), col(TicketHistory.id))
        )
        return list(rows.all())


async def audits(sessions: Sessions, ticket_id: uuid.UUID, action: str) -> list[AuditLog]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditLog).where(
                col(AuditLog.object_id) == str(ticket_id), col(AuditLog.action) == action
            )
        )
        return list(rows.all())


async def patch(
    client: httpx.AsyncClient, auth: Auth, role: str, ticket_id: uuid.UUID, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"/tickets/{ticket_id}", headers=auth(role), json=body)


@pytest.mark.usefixtures("rights")
class TestAssignee:
    async def test_assigning_another_publishes_ticket_assigned(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """With can_assign_others the primary assigns the backup: ticket.assigned (rule agent,
        assigned_by the primary), one history row, one audit row; no ticket.updated."""
        ticket = await new_ticket(sessions, world)
        backup, primary = world.users["backup"], world.users["primary"]

        response = await patch(client, auth, "primary", ticket.id, {"assignee_id": str(backup.id)})

        assert response.status_code == 200, response.text
        assert response.json()["changes"] == [
            {"field": "assignee_id", "old": None, "new": str(backup.id)}
        ]
        assert (await stored(sessions, ticket.id)).assignee_id == backup.id
        [event] = await events(sessions, ticket.id, "ticket.assigned")
        assert event["payload"]["assignee_id"] == str(backup.id)
        assert event["payload"]["previous_assignee_id"] is None
        assert event["payload"]["assigned_by"] == str(primary.id)
        assert event["payload"]["rule"] == "agent"
        assert await events(sessions, ticket.id, "ticket.updated") == []
        [row] = await history(sessions, ticket.id)
        assert (row.kind, row.actor_user_id, row.event_id) == (
            "assigned",
            primary.id,
            uuid.UUID(event["id"]),
        )
        [audit] = await audits(sessions, ticket.id, "ticket.updated")
        assert audit.actor_user_id == primary.id

    async def test_without_assign_right_only_yourself(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """The backup (no can_assign_others) may take the ticket, not give it to another."""
        ticket = await new_ticket(sessions, world)
        primary, backup = world.users["primary"], world.users["backup"]
        refused = await patch(client, auth, "backup", ticket.id, {"assignee_id": str(primary.id)})
        assert refused.status_code == 403, refused.text
        taken = await patch(client, auth, "backup", ticket.id, {"assignee_id": str(backup.id)})
        assert taken.status_code == 200, taken.text
        [event] = await events(sessions, ticket.id, "ticket.assigned")
        assert event["payload"]["assigned_by"] == str(backup.id)

    async def test_viewer_may_not_take_a_ticket(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        viewer = world.users["viewer"]
        response = await patch(client, auth, "viewer", ticket.id, {"assignee_id": str(viewer.id)})
        assert response.status_code == 403
        assert (await stored(sessions, ticket.id)).assignee_id is None

    @pytest.mark.parametrize("who", ["viewer", "inactive", "unassigned", "admin_b", "nobody"])
    async def test_unfit_assignee_is_422(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions, who: str
    ) -> None:
        """A viewer, an inactive user, one without an assignment on the mailbox, another
        tenant's user or no user at all: refused, nothing changes."""
        ticket = await new_ticket(sessions, world)
        target = world.users[who].id if who in world.users else uuid.uuid4()
        response = await patch(client, auth, "admin", ticket.id, {"assignee_id": str(target)})
        assert response.status_code == 422, response.text
        assert (await stored(sessions, ticket.id)).assignee_id is None
        assert await events(sessions, ticket.id, "ticket.assigned") == []

    async def test_unassigning_is_a_ticket_update(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """assignee_id null clears the assignee: ticket.updated says so."""
        primary = world.users["primary"]
        ticket = await new_ticket(sessions, world, assignee_id=primary.id)
        response = await patch(client, auth, "admin", ticket.id, {"assignee_id": None})
        assert response.status_code == 200, response.text
        assert (await stored(sessions, ticket.id)).assignee_id is None
        [event] = await events(sessions, ticket.id, "ticket.updated")
        assert event["payload"]["changes"] == [
            {"field": "assignee_id", "old": str(primary.id), "new": None}
        ]


class TestTags:
    async def test_set_add_remove_normalised(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Tags are trimmed and lower-cased, duplicates dropped; each change is one
        ticket.updated, a repeat of the same change nothing."""
        ticket = await new_ticket(sessions, world)
        first = await patch(
            client, auth, "backup", ticket.id, {"tags": {"set": [" VIP ", "vip", "Billing"]}}
        )
        assert first.status_code == 200, first.text
        assert first.json()["ticket"]["tags"] == ["vip", "billing"]
        second = await patch(
            client, auth, "backup", ticket.id, {"tags": {"add": ["Urgent"], "remove": ["VIP"]}}
        )
        assert second.json()["ticket"]["tags"] == ["billing", "urgent"]
        again = await patch(client, auth, "backup", ticket.id, {"tags": {"add": ["urgent"]}})
        assert again.json()["changes"] == []
        assert (await stored(sessions, ticket.id)).tags == ["billing", "urgent"]
        changes = [
            e["payload"]["changes"] for e in await events(sessions, ticket.id, "ticket.updated")
        ]
        assert changes == [
            [{"field": "tags", "old": "", "new": "vip,billing"}],
            [{"field": "tags", "old": "vip,billing", "new": "billing,urgent"}],
        ]
        assert [h.kind for h in await history(sessions, ticket.id)] == ["tags", "tags"]

    @pytest.mark.parametrize(
        ("tags", "status"),
        [
            ({"set": ["x" * 41]}, 422),
            ({"add": [" "]}, 422),
            ({"add": [f"t{i}" for i in range(20)], "remove": []}, 422),
            ({"set": [f"t{i}" for i in range(21)]}, 400),
            ({"replace": ["x"]}, 400),
        ],
    )
    async def test_bad_tags_are_refused(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        tags: Any,
        status: int,
    ) -> None:
        """A tag too long or empty, or more than 20 after the edit: 422; a request the model
        refuses (too many in one list, an unknown key): 400. Nothing changes."""
        ticket = await new_ticket(sessions, world, tags=["old"])
        response = await patch(client, auth, "admin", ticket.id, {"tags": tags})
        assert response.status_code == status, response.text
        assert (await stored(sessions, ticket.id)).tags == ["old"]

    async def test_viewer_may_not_tag(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        response = await patch(client, auth, "viewer", ticket.id, {"tags": {"add": ["x"]}})
        assert response.status_code == 403
        assert await events(sessions, ticket.id, "ticket.updated") == []


class TestDelete:
    async def test_admin_deletes_and_the_ticket_is_gone_everywhere(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Soft delete: deleted_at/by set, history, audit and ticket.updated; then 404 on
        the detail, absent from the list, the search and the counts."""
        ticket = await new_ticket(sessions, world, subject="Quixotic request")
        before = (await client.get("/tickets/counts", headers=auth("admin"))).json()

        response = await client.delete(f"/tickets/{ticket.id}", headers=auth("admin"))

        assert response.status_code == 204, response.text
        row = await stored(sessions, ticket.id)
        assert row.deleted_at is not None
        assert row.deleted_by == world.users["admin"].id
        [event] = await events(sessions, ticket.id, "ticket.updated")
        assert event["payload"]["changes"][0]["field"] == "deleted_at"
        assert [h.kind for h in await history(sessions, ticket.id)] == ["deleted"]
        assert len(await audits(sessions, ticket.id, "ticket.deleted")) == 1
        for role in ("admin", "primary"):
            detail = await client.get(f"/tickets/{ticket.id}", headers=auth(role))
            assert detail.status_code == 404
        listed = await client.get(
            "/tickets", headers=auth("admin"), params={"limit": 100, "q": "quixotic"}
        )
        assert listed.json()["items"] == []
        after = (await client.get("/tickets/counts", headers=auth("admin"))).json()
        assert after["all"] == before["all"] - 1
        again = await client.delete(f"/tickets/{ticket.id}", headers=auth("admin"))
        assert again.status_code == 404
        changed = await patch(client, auth, "admin", ticket.id, {"priority": "high"})
        assert changed.status_code == 404

    @pytest.mark.parametrize("role", ["backup", "viewer", "primary"])
    async def test_without_can_delete_is_403(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions, role: str
    ) -> None:
        ticket = await new_ticket(sessions, world)
        response = await client.delete(f"/tickets/{ticket.id}", headers=auth(role))
        assert response.status_code == 403
        assert (await stored(sessions, ticket.id)).deleted_at is None

    async def test_can_delete_on_the_mailbox_allows_it(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """A member deletes with can_delete on the ticket's mailbox."""
        ticket = await new_ticket(sessions, world, account="bulk")
        async with sessions() as session, session.begin():
            assignment = (
                await session.scalars(
                    select(EmailAssignment).where(
                        col(EmailAssignment.user_id) == world.users["primary"].id,
                        col(EmailAssignment.account_id) == world.accounts["bulk"].id,
                    )
                )
            ).one()
            assignment.can_delete = True
        response = await client.delete(f"/tickets/{ticket.id}", headers=auth("primary"))
        assert response.status_code == 204, response.text


class TestIsolation:
    @pytest.mark.parametrize(
        ("role", "account"),
        [
            ("admin_b", "support"),
            ("primary", "sales"),
            ("unassigned", "support"),
            ("admin", "b_support"),
        ],
    )
    async def test_invisible_ticket_is_404_for_every_action(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        role: str,
        account: str,
    ) -> None:
        """Another tenant's or another mailbox's ticket: 404 on change, tag, assign, delete,
        read, unread; nothing changes."""
        ticket = await new_ticket(sessions, world, account=account)
        me = world.users[role].id
        for body in ({"priority": "high"}, {"tags": {"add": ["x"]}}, {"assignee_id": str(me)}):
            response = await patch(client, auth, role, ticket.id, body)
            assert response.status_code == 404, (body, response.text)
        assert (await client.delete(f"/tickets/{ticket.id}", headers=auth(role))).status_code == 404
        assert (await client.get(f"/tickets/{ticket.id}", headers=auth(role))).status_code == 404
        unread = await client.post(f"/tickets/{ticket.id}/unread", headers=auth(role))
        assert unread.status_code == 404
        row = await stored(sessions, ticket.id)
        assert (row.priority, row.tags, row.assignee_id, row.deleted_at) == (
            "normal",
            [],
            None,
            None,
        )


async def add_messages(sessions: Sessions, ticket: Ticket, count: int) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            Message(
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                account_id=ticket.account_id,
                message_id_header=f"{uuid.uuid4()}@client.test",
                text_body=f"message {i}",
            )
            for i in range(count)
        )


class TestMerge:
    async def test_messages_move_and_both_tickets_say_so(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """The absorbed ticket's messages move; it is closed and points at the survivor;
        each ticket gets a history row and a ticket.updated; the merge is audited."""
        absorbed = await new_ticket(sessions, world)
        survivor = await new_ticket(sessions, world)
        await add_messages(sessions, absorbed, 2)
        await add_messages(sessions, survivor, 1)

        response = await client.post(
            f"/tickets/{absorbed.id}/merge",
            headers=auth("backup"),
            json={"into_ticket_id": str(survivor.id)},
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["merged_ticket_id"], body["moved_messages"]) == (str(absorbed.id), 2)
        assert body["ticket"]["message_count"] == 3
        gone = await stored(sessions, absorbed.id)
        assert (gone.merged_into_id, gone.status, gone.message_count) == (
            survivor.id,
            "closed",
            0,
        )
        detail = await client.get(f"/tickets/{survivor.id}", headers=auth("backup"))
        assert len(detail.json()["messages"]) == 3
        by_ticket = {
            e["payload"]["ticket_id"]: [c["field"] for c in e["payload"]["changes"]]
            for e in await events(sessions, absorbed.id, "ticket.updated")
        }
        assert by_ticket == {
            str(absorbed.id): ["merged_into_id", "status"],
            str(survivor.id): ["merged_from"],
        }
        assert [h.kind for h in await history(sessions, absorbed.id)] == ["merged"]
        assert [h.kind for h in await history(sessions, survivor.id)] == ["merged"]
        assert len(await audits(sessions, absorbed.id, "ticket.merged")) == 1

        again = await client.post(
            f"/tickets/{absorbed.id}/merge",
            headers=auth("backup"),
            json={"into_ticket_id": str(survivor.id)},
        )
        assert again.status_code == 409

    async def test_opposite_merges_of_one_pair_at_once_merge_once(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Two agents merge the same pair in opposite directions at the same moment: one
        merge happens, the other is told 409; no deadlock, no 500, no message lost."""
        pairs = [
            (await new_ticket(sessions, world), await new_ticket(sessions, world)) for _ in range(8)
        ]
        for one, two in pairs:
            await add_messages(sessions, one, 1)
            await add_messages(sessions, two, 1)

        def merge(a: Ticket, b: Ticket) -> Any:
            return client.post(
                f"/tickets/{a.id}/merge", headers=auth("admin"), json={"into_ticket_id": str(b.id)}
            )

        answers = await asyncio.gather(
            *(request for one, two in pairs for request in (merge(one, two), merge(two, one)))
        )

        for index, (one, two) in enumerate(pairs):
            statuses = sorted(r.status_code for r in answers[2 * index : 2 * index + 2])
            assert statuses == [200, 409], [r.text for r in answers]
            rows = [await stored(sessions, one.id), await stored(sessions, two.id)]
            assert sorted(r.merged_into_id is None for r in rows) == [False, True]
            assert sorted(r.message_count for r in rows) == [0, 2]

    async def test_into_itself_is_422(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        ticket = await new_ticket(sessions, world)
        response = await client.post(
            f"/tickets/{ticket.id}/merge",
            headers=auth("admin"),
            json={"into_ticket_id": str(ticket.id)},
        )
        assert response.status_code == 422

    async def test_viewer_may_not_merge(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        one, two = await new_ticket(sessions, world), await new_ticket(sessions, world)
        response = await client.post(
            f"/tickets/{one.id}/merge", headers=auth("viewer"), json={"into_ticket_id": str(two.id)}
        )
        assert response.status_code == 403
        assert (await stored(sessions, one.id)).merged_into_id is None

    @pytest.mark.parametrize(
        ("role", "source", "target"),
        [
            ("backup", "support", "bulk"),
            ("primary", "sales", "support"),
            ("admin", "support", "b_support"),
            ("admin_b", "support", "support"),
        ],
    )
    async def test_an_invisible_ticket_on_either_side_is_404(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        role: str,
        source: str,
        target: str,
    ) -> None:
        """Another mailbox's or another tenant's ticket, as source or target: 404, no merge."""
        one = await new_ticket(sessions, world, account=source)
        two = await new_ticket(sessions, world, account=target)
        for a, b in ((one, two), (two, one)):
            response = await client.post(
                f"/tickets/{a.id}/merge", headers=auth(role), json={"into_ticket_id": str(b.id)}
            )
            assert response.status_code == 404, response.text
        assert (await stored(sessions, one.id)).merged_into_id is None
        assert (await stored(sessions, two.id)).merged_into_id is None
