"""Internal notes with @mentions: who may read and write them, how mentions resolve, and the
ticket.note_added event they commit (real PostgreSQL and RabbitMQ).

`world` (conftest): in tenant A the `support` mailbox has primary, backup and viewer (and
an inactive user) assigned; `sales` nobody active; B is another tenant.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from postdesk_contracts.api import MAX_NOTE_CHARS
from postdesk_gateway.domain import UnprocessableError
from postdesk_gateway.mentions import MAX_MENTIONED_USERS, Candidate, find_handles, resolve
from postdesk_runtime import Sessions
from postdesk_schema import (
    AuditLog,
    OutboxEvent,
    TenantRole,
    Ticket,
    TicketHistory,
    TicketNote,
    User,
)
from postdesk_testing import eventually
from postdesk_testing.problems import problem_detail
from sqlmodel import col, select

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]


def local(world: Any, role: str) -> str:
    """The local part of a world user's login: their short @handle."""
    return str(world.email(role).partition("@")[0])


async def note_events(sessions: Sessions, note_id: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                col(OutboxEvent.service) == "gateway",
                col(OutboxEvent.routing_key) == "ticket.note_added",
                col(OutboxEvent.body).contains(note_id),
            )
        )
        return [json.loads(row.body) for row in rows.all()]


async def stored_notes(sessions: Sessions, ticket_id: uuid.UUID) -> list[TicketNote]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketNote).where(col(TicketNote.ticket_id) == ticket_id)
        )
        return list(rows.all())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def namesakes(sessions: Sessions, world: Any) -> dict[str, User]:
    """Users sharing a local part: two in tenant A (an admin and a member), and one in B
    whose local part nobody in A has."""
    suffix = world.suffix
    hashed = PasswordHasher().hash("unused password")
    users = {
        "dup_admin": User(
            tenant_id=world.tenant_a,
            email=f"dup-{suffix}@one.test",
            password_hash=hashed,
            full_name="Dup One",
            role=TenantRole.ADMIN,
        ),
        "dup_member": User(
            tenant_id=world.tenant_a,
            email=f"dup-{suffix}@two.test",
            password_hash=hashed,
            full_name="Dup Two",
        ),
        "b_only": User(
            tenant_id=world.tenant_b,
            email=f"b-only-{suffix}@globex.test",
            password_hash=hashed,
            full_name="B Only",
        ),
    }
    async with sessions() as session:
        session.add_all(list(users.values()))
        await session.commit()
    return users


class TestFindingMentions:
    """Which text is a mention (pure)."""

    @pytest.mark.parametrize(
        ("text", "handles"),
        [
            ("@ana please look", ["ana"]),
            ("Thanks, @Ana.", ["ana"]),
            ("(@bob), and @ana@acme.example.", ["bob", "ana@acme.example"]),
            ("write to ana@acme.example or a@b.com", []),
            ("see https://social.example/@ana", []),
            ("@ana and again @ANA", ["ana"]),
            ("line one\n@carl-2: yours", ["carl-2"]),
        ],
    )
    def test_handles(self, text: str, handles: list[str]) -> None:
        """A handle starts the text or follows whitespace or punctuation; never inside an
        address or URL; trailing punctuation is not part of it; each handle once, lower-cased."""
        assert find_handles(text) == handles

    def test_resolution_refuses_more_than_the_limit(self) -> None:
        """A note may name at most MAX_MENTIONED_USERS users."""
        many = [
            Candidate(uuid.uuid4(), f"u{i}@x.test", is_active=True, can_see_ticket=True)
            for i in range(MAX_MENTIONED_USERS + 1)
        ]
        assert len(resolve([f"u{i}" for i in range(MAX_MENTIONED_USERS)], many)) == 50
        with pytest.raises(UnprocessableError):
            resolve([f"u{i}" for i in range(MAX_MENTIONED_USERS + 1)], many)


class TestWritingNotes:
    async def test_mentions_resolve_and_the_event_names_them(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """Local parts and full logins resolve case-insensitively within the tenant; unknown
        handles and plain addresses stay text. The note, a history row and ticket.note_added
        (with the mentioned ids and an excerpt) are committed, and the relay publishes it."""
        ticket = world.tickets["support_1"]
        body = (
            f"@{local(world, 'backup')} and @{world.email('viewer').upper()}, see the invoice. "
            f"Cc @{local(world, 'admin')}; the customer wrote from "
            f"{world.email('unassigned')} and @nobody-{world.suffix} is nobody. " + "x" * 300
        )
        response = await client.post(
            f"/tickets/{ticket.id}/notes", headers=auth("primary"), json={"body": body}
        )
        assert response.status_code == 201, response.text
        note = response.json()
        expected = [str(world.users[r].id) for r in ("backup", "viewer", "admin")]
        assert note["mentioned_user_ids"] == expected
        assert (note["author_id"], note["body"]) == (str(world.users["primary"].id), body)

        [event] = await note_events(sessions, note["id"])
        payload = event["payload"]
        assert payload["mentioned_user_ids"] == expected
        assert payload["author_id"] == str(world.users["primary"].id)
        assert (payload["ticket_id"], payload["account_id"]) == (
            str(ticket.id),
            str(ticket.account_id),
        )
        assert payload["excerpt"] == body[:200]
        async with sessions() as session:
            [stored] = [
                n for n in await stored_notes(sessions, ticket.id) if str(n.id) == note["id"]
            ]
            assert stored.mentioned_user_ids == expected
            history = (
                await session.scalars(
                    select(TicketHistory).where(
                        col(TicketHistory.event_id) == uuid.UUID(event["id"])
                    )
                )
            ).one()
            assert (history.kind, history.actor_user_id) == ("note", world.users["primary"].id)

        async def published() -> datetime | None:
            async with sessions() as session:
                row = await session.get(OutboxEvent, uuid.UUID(event["id"]))
                return row.published_at if row else None

        await eventually(published)  # the relay was woken and the broker routed it

    async def test_mentioning_yourself_is_allowed(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """The author may name themselves; the event names them too (the notifier skips
        the author)."""
        ticket = world.tickets["support_2"]
        response = await client.post(
            f"/tickets/{ticket.id}/notes",
            headers=auth("backup"),
            json={"body": f"note to self @{local(world, 'backup')}"},
        )
        assert response.status_code == 201, response.text
        [event] = await note_events(sessions, response.json()["id"])
        assert event["payload"]["mentioned_user_ids"] == [str(world.users["backup"].id)]
        assert event["payload"]["author_id"] == str(world.users["backup"].id)

    async def test_an_ambiguous_handle_asks_for_the_full_address(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        namesakes: dict[str, User],
    ) -> None:
        """A local part two users of the tenant share is a 422 asking for the full address;
        the full address then resolves to the one user, and nothing was stored before."""
        ticket = world.tickets["support_2"]
        before = len(await stored_notes(sessions, ticket.id))
        handle = f"dup-{world.suffix}"
        refused = await client.post(
            f"/tickets/{ticket.id}/notes", headers=auth("primary"), json={"body": f"@{handle} ?"}
        )
        detail = problem_detail(refused, 422)
        assert f"@{handle}" in detail
        assert "full address" in detail
        assert len(await stored_notes(sessions, ticket.id)) == before

        admin = namesakes["dup_admin"]
        accepted = await client.post(
            f"/tickets/{ticket.id}/notes",
            headers=auth("primary"),
            json={"body": f"@{admin.email} ?"},
        )
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["mentioned_user_ids"] == [str(admin.id)]

    @pytest.mark.parametrize(
        ("mentioned", "reason"),
        [("unassigned", "cannot see this ticket"), ("inactive", "deactivated")],
    )
    async def test_a_mention_that_cannot_be_notified_refuses_the_note(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        sessions: Sessions,
        mentioned: str,
        reason: str,
    ) -> None:
        """Naming a user without access to the ticket's mailbox, or a deactivated one, is a
        422 naming the handle; nothing is stored and nothing published."""
        ticket = world.tickets["support_1"]
        before = len(await stored_notes(sessions, ticket.id))
        handle = local(world, mentioned)
        response = await client.post(
            f"/tickets/{ticket.id}/notes",
            headers=auth("primary"),
            json={"body": f"fyi @{handle}"},
        )
        detail = problem_detail(response, 422)
        assert f"@{handle}" in detail
        assert reason in detail
        assert len(await stored_notes(sessions, ticket.id)) == before

    async def test_another_tenants_namesake_is_plain_text(
        self,
        client: httpx.AsyncClient,
        world: Any,
        auth: Auth,
        namesakes: dict[str, User],
    ) -> None:
        """Handles resolve within the author's tenant only: B's user is not found from A."""
        b_user = namesakes["b_only"]
        for handle in (b_user.email.partition("@")[0], b_user.email):
            response = await client.post(
                f"/tickets/{world.tickets['support_1'].id}/notes",
                headers=auth("admin"),
                json={"body": f"ask @{handle}"},
            )
            assert response.status_code == 201, response.text
            assert response.json()["mentioned_user_ids"] == []

    async def test_a_viewer_may_read_but_not_write(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """A viewer gets 403 writing a note, and reads the notes of the ticket."""
        ticket = world.tickets["support_1"]
        problem_detail(
            await client.post(
                f"/tickets/{ticket.id}/notes", headers=auth("viewer"), json={"body": "hello"}
            ),
            403,
        )
        response = await client.get(f"/tickets/{ticket.id}/notes", headers=auth("viewer"))
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        ("role", "ticket"),
        [
            ("admin_b", "support_1"),
            ("admin", "b_1"),
            ("unassigned", "support_1"),
            ("backup", "sales_1"),  # the backup's assignment there is inactive
        ],
    )
    async def test_tickets_the_user_cannot_see_are_404(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, role: str, ticket: str
    ) -> None:
        """Another tenant's ticket, or one of a mailbox the user is not (actively) assigned
        to, is a 404 for reading and writing notes alike."""
        path = f"/tickets/{world.tickets[ticket].id}/notes"
        problem_detail(await client.get(path, headers=auth(role)), 404)
        problem_detail(await client.post(path, headers=auth(role), json={"body": "x"}), 404)

    @pytest.mark.parametrize("body", ["", "   \n ", "x" * (MAX_NOTE_CHARS + 1)])
    async def test_empty_blank_or_long_bodies_are_refused(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, body: str
    ) -> None:
        """A note has 1 to 20000 characters, not all whitespace."""
        response = await client.post(
            f"/tickets/{world.tickets['support_1'].id}/notes",
            headers=auth("primary"),
            json={"body": body},
        )
        problem_detail(response, 400)


class TestReadingNotes:
    async def test_notes_are_listed_oldest_first_and_the_read_is_audited(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """The list is the ticket's notes in the order written; every read writes an audit row."""
        ticket = world.tickets["support_2"]
        written = []
        for text in ("first", "second", "third"):
            response = await client.post(
                f"/tickets/{ticket.id}/notes", headers=auth("admin"), json={"body": text}
            )
            assert response.status_code == 201, response.text
            written.append(response.json()["id"])
        response = await client.get(f"/tickets/{ticket.id}/notes", headers=auth("backup"))
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        listed = [item["id"] for item in items if item["id"] in written]
        assert listed == written
        assert [i["created_at"] for i in items] == sorted(i["created_at"] for i in items)
        async with sessions() as session:
            audited = await session.scalars(
                select(AuditLog).where(
                    col(AuditLog.action) == "ticket.notes_read",
                    col(AuditLog.object_id) == str(ticket.id),
                    col(AuditLog.actor_user_id) == world.users["backup"].id,
                )
            )
            assert audited.first() is not None

    async def test_notes_of_a_merged_ticket_show_on_the_ticket_it_joined(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, sessions: Sessions
    ) -> None:
        """A ticket merged into another brings its notes along, like its history."""
        target = world.tickets["support_1"]
        merged = Ticket(
            tenant_id=world.tenant_a,
            number=10_000 + secrets.randbelow(1_000_000),
            account_id=target.account_id,
            subject="Merged away",
            customer_email="customer1@client.test",
            merged_into_id=target.id,
            last_message_at=target.last_message_at,
        )
        note = TicketNote(
            tenant_id=world.tenant_a,
            ticket_id=merged.id,
            author_id=world.users["backup"].id,
            body="written before the merge",
        )
        async with sessions() as session:
            session.add(merged)
            await session.flush()
            session.add(note)
            await session.commit()
        response = await client.get(f"/tickets/{target.id}/notes", headers=auth("viewer"))
        assert response.status_code == 200, response.text
        [listed] = [i for i in response.json()["items"] if i["id"] == str(note.id)]
        assert listed["ticket_id"] == str(merged.id)
