"""The inbox list, its sidebar counts and per-user unread state, on the real database.

GET /tickets (views, filters, search, sorts, keyset pages), GET /tickets/counts,
the read mark GET /tickets/{id} leaves and POST /tickets/{id}/unread. The
module's `world` (conftest) gets an `Inbox` on top: a department for the
primary, their personal mailbox with tickets carrying tags, sentiment, SLA
clocks and a message body to search.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from postdesk_gateway import inbox_search
from postdesk_runtime import Sessions
from postdesk_schema import (
    AccountKind,
    AssignmentRole,
    Department,
    EmailAccount,
    EmailAssignment,
    Message,
    SlaPolicy,
    SlaTimer,
    Ticket,
    TicketPriority,
    TicketStatus,
    User,
)

pytestmark = pytest.mark.integration

Auth = Callable[[str], dict[str, str]]
BASE = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Inbox:
    """What this module adds to the world: ticket ids by name, and the personal mailbox."""

    personal: uuid.UUID
    tickets: dict[str, uuid.UUID]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def inbox(world: Any, sessions: Sessions) -> Inbox:
    """The primary gets a department and a personal mailbox with two tickets: `vip` (high,
    tagged, negative, of the department, breached SLA, a body mentioning a flux capacitor)
    and `waiting` (urgent, pending). support_1 gets a warned SLA clock; B's ticket a
    message with a word found nowhere else."""
    a = world.tenant_a
    department = Department(tenant_id=a, name=f"Support {world.suffix}")
    personal = EmailAccount(
        tenant_id=a,
        address=f"primary-own-{world.suffix}@acme.test",
        kind=AccountKind.PERSONAL,
        owner_user_id=world.users["primary"].id,
    )
    vip = Ticket(
        tenant_id=a,
        number=500,
        account_id=personal.id,
        department_id=department.id,
        subject="Broken device",
        customer_email="vip@client.test",
        priority=TicketPriority.HIGH,
        tags=["vip", "hardware"],
        sentiment="negative",
        created_at=BASE + timedelta(days=2),
        last_message_at=BASE + timedelta(days=2),
    )
    waiting = Ticket(
        tenant_id=a,
        number=501,
        account_id=personal.id,
        subject="Waiting for you",
        customer_email="waiting@client.test",
        status=TicketStatus.PENDING,
        priority=TicketPriority.URGENT,
        created_at=BASE + timedelta(days=3),
        last_message_at=BASE + timedelta(days=3),
    )
    policy = SlaPolicy(tenant_id=a, name=f"gold {world.suffix}", first_response_minutes=60)

    def clock(ticket_id: uuid.UUID, *, warned: bool, breached: bool) -> SlaTimer:
        return SlaTimer(
            tenant_id=a,
            ticket_id=ticket_id,
            policy_id=policy.id,
            target="first_response",
            due_at=BASE + timedelta(hours=1),
            warn_at=BASE + timedelta(minutes=48),
            warned_at=BASE + timedelta(minutes=48) if warned else None,
            breached_at=BASE + timedelta(hours=1) if breached else None,
        )

    async with sessions() as session, session.begin():
        session.add(department)
        await session.flush()
        primary = await session.get(User, world.users["primary"].id)
        assert primary is not None
        primary.department_id = department.id
        session.add(personal)
        await session.flush()
        session.add(
            EmailAssignment(
                tenant_id=a,
                account_id=personal.id,
                user_id=primary.id,
                role=AssignmentRole.PRIMARY,
            )
        )
        session.add_all([vip, waiting, policy])
        await session.flush()
        session.add_all(
            [
                Message(
                    tenant_id=a,
                    ticket_id=vip.id,
                    account_id=personal.id,
                    message_id_header=f"vip-{world.suffix}@client.test",
                    from_email=vip.customer_email,
                    text_body="My flux capacitor stopped working after the update.",
                ),
                Message(
                    tenant_id=world.tenant_b,
                    ticket_id=world.tickets["b_1"].id,
                    account_id=world.accounts["b_support"].id,
                    message_id_header=f"b-zanzibar-{world.suffix}@client.test",
                    text_body="Shipping to zanzibar, please.",
                ),
                clock(vip.id, warned=True, breached=True),
                clock(world.tickets["support_1"].id, warned=True, breached=False),
            ]
        )
    return Inbox(personal=personal.id, tickets={"vip": vip.id, "waiting": waiting.id})


async def listed(
    client: httpx.AsyncClient, auth: Auth, role: str, **params: Any
) -> list[dict[str, Any]]:
    """Every item of the list for `role` with these filters (one page of 100)."""
    response = await client.get("/tickets", headers=auth(role), params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    items: list[dict[str, Any]] = body["items"]
    return items


async def listed_ids(
    client: httpx.AsyncClient, auth: Auth, role: str, **params: Any
) -> set[uuid.UUID]:
    return {uuid.UUID(t["id"]) for t in await listed(client, auth, role, **params)}


def ids(world: Any, *names: str) -> set[uuid.UUID]:
    return {world.tickets[n].id for n in names}


class TestViews:
    async def test_admin_sees_the_whole_tenant_and_no_more(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """view=all for an admin: every ticket of the tenant, none of B's."""
        expected = world.tickets_of("support", "sales", "bulk") | set(inbox.tickets.values())
        assert await listed_ids(client, auth, "admin", view="all") == expected

    async def test_member_all_is_their_mailboxes(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """view=all for a member: only mailboxes with an active assignment (the default)."""
        expected = world.tickets_of("support", "bulk") | set(inbox.tickets.values())
        assert await listed_ids(client, auth, "primary", view="all") == expected
        assert await listed_ids(client, auth, "primary") == expected
        assert await listed_ids(client, auth, "viewer") == world.tickets_of("support")
        assert await listed_ids(client, auth, "unassigned") == set()

    async def test_mine_is_my_personal_mailbox(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """view=mine: tickets of the caller's personal mailboxes only."""
        assert await listed_ids(client, auth, "primary", view="mine") == set(inbox.tickets.values())
        assert await listed_ids(client, auth, "backup", view="mine") == set()
        assert await listed_ids(client, auth, "admin", view="mine") == set()

    async def test_assigned_is_assigned_to_me(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """view=assigned and the older assigned_to_me=true: tickets whose assignee is me."""
        assert await listed_ids(client, auth, "primary", view="assigned") == ids(world, "support_1")
        assert await listed_ids(client, auth, "primary", assigned_to_me="true") == ids(
            world, "support_1"
        )
        assert await listed_ids(client, auth, "backup", view="assigned") == set()

    async def test_department_is_my_department(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """view=department: the caller's department's tickets; nothing without a department."""
        assert await listed_ids(client, auth, "primary", view="department") == {
            inbox.tickets["vip"]
        }
        assert await listed_ids(client, auth, "backup", view="department") == set()

    async def test_unknown_view_is_refused(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        response = await client.get("/tickets", headers=auth("admin"), params={"view": "every"})
        assert response.status_code == 400


class TestFilters:
    async def test_account_of_another_mailbox_or_tenant_lists_nothing(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """account_id narrows the visible set; it never widens it."""
        support = world.accounts["support"].id
        assert await listed_ids(client, auth, "primary", account_id=support) == (
            world.tickets_of("support")
        )
        sales = world.accounts["sales"].id
        assert await listed_ids(client, auth, "primary", account_id=sales) == set()
        b_support = world.accounts["b_support"].id
        assert await listed_ids(client, auth, "admin", account_id=b_support) == set()

    async def test_department_narrows_and_never_widens(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """department_id: the department's tickets among those the caller sees; another
        tenant's department lists nothing."""
        vip = await listed(client, auth, "primary", view="mine")
        department = next(t["department_id"] for t in vip if t["id"] == str(inbox.tickets["vip"]))
        assert await listed_ids(client, auth, "admin", department_id=department) == {
            inbox.tickets["vip"]
        }
        assert await listed_ids(client, auth, "backup", department_id=department) == set()
        assert await listed_ids(client, auth, "admin", department_id=str(uuid.uuid4())) == set()

    async def test_items_name_their_assignee(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """Members see who a ticket is assigned to without the admin user list."""
        items = {t["id"]: t for t in await listed(client, auth, "backup")}
        assigned = items[str(world.tickets["support_1"].id)]
        assert assigned["assignee_id"] == str(world.users["primary"].id)
        assert assigned["assignee_name"] == world.users["primary"].full_name
        assert all(t["assignee_name"] == "" for t in items.values() if not t["assignee_id"])

    async def test_status_and_priority_take_several_values(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """status and priority repeat: any of the values matches."""
        everything = await listed_ids(client, auth, "primary")
        pending = await listed_ids(client, auth, "primary", status="pending")
        assert pending == {inbox.tickets["waiting"]}
        both = await listed_ids(client, auth, "primary", status=["open", "pending"])
        assert both == everything
        high_or_urgent = await listed_ids(client, auth, "primary", priority=["high", "urgent"])
        assert high_or_urgent == set(inbox.tickets.values())
        assert await listed_ids(client, auth, "primary", priority="low") == set()

    async def test_tag_sentiment_and_sla_state(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """tag (any case), sentiment, and the SLA state from the clocks: breached, warning
        (warned, not breached), ok (neither)."""
        vip = {inbox.tickets["vip"]}
        assert await listed_ids(client, auth, "primary", tag="VIP") == vip
        assert await listed_ids(client, auth, "primary", sentiment="negative") == vip
        assert await listed_ids(client, auth, "primary", sla="breached") == vip
        warning = await listed_ids(client, auth, "primary", sla="warning")
        assert warning == ids(world, "support_1")
        ok = await listed_ids(client, auth, "primary", sla="ok")
        assert ok == await listed_ids(client, auth, "primary") - vip - warning

    async def test_date_range(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """since (inclusive) and until (exclusive) on created_at or last_message_at."""
        day2, day3 = BASE + timedelta(days=2), BASE + timedelta(days=3)
        on_day2 = await listed_ids(
            client, auth, "primary", since=day2.isoformat(), until=day3.isoformat()
        )
        assert on_day2 == {inbox.tickets["vip"]}
        by_activity = await listed_ids(
            client,
            auth,
            "primary",
            date_field="last_message_at",
            since=(BASE + timedelta(minutes=30)).isoformat(),
            until=day2.isoformat(),
        )
        assert by_activity == ids(world, "support_2")

    @pytest.mark.parametrize(
        "value", ["47880943143", "2025-01-01", "2025-01-01T00:00:00", "2025-13-45T00:00:00Z"]
    )
    async def test_date_range_refuses_what_is_no_dated_time(
        self, client: httpx.AsyncClient, auth: Auth, value: str
    ) -> None:
        """A Unix time, a bare date, a time without offset or an impossible one is a 400."""
        for name in ("since", "until"):
            response = await client.get("/tickets", headers=auth("primary"), params={name: value})
            assert response.status_code == 400, response.text
            assert response.headers["content-type"].startswith("application/problem+json")


class TestSearch:
    @pytest.fixture(autouse=True, params=["ids", "member ids", "walk"])
    def strategy(self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each search every way (inbox_search): ids from the GIN indexes (a rare term), ids
        among a member's mailboxes (rare there; an admin walks), and the list's order
        checked ticket by ticket (a common term)."""
        rare, narrow = {"ids": (10**9, 0), "member ids": (0, 10**9), "walk": (0, 0)}[request.param]
        monkeypatch.setattr(inbox_search, "RARE_TERM_MESSAGES", rare)
        monkeypatch.setattr(inbox_search, "NARROW_TERM_MESSAGES", narrow)

    async def test_finds_a_word_of_a_message_body(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """q matches a message's text though the ticket's own fields do not have it."""
        assert await listed_ids(client, auth, "primary", q="capacitor") == {inbox.tickets["vip"]}
        assert await listed_ids(client, auth, "primary", q='"flux capacitor"') == {
            inbox.tickets["vip"]
        }

    async def test_finds_subject_and_customer(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        assert await listed_ids(client, auth, "primary", q="invoice") == ids(world, "support_2")
        assert await listed_ids(client, auth, "primary", q="waiting@client.test") == {
            inbox.tickets["waiting"]
        }

    async def test_never_finds_what_the_caller_cannot_see(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """Another tenant's mail, another mailbox's mail: not found, not even by an admin."""
        assert await listed_ids(client, auth, "admin", q="zanzibar") == set()
        assert await listed_ids(client, auth, "admin_b", q="zanzibar") == ids(world, "b_1")
        assert await listed_ids(client, auth, "viewer", q="capacitor") == set()


def sort_key(item: dict[str, Any], sort: str) -> Any:
    rank = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
    if sort == "priority":
        return rank[item["priority"]]
    if sort == "number":
        return item["number"]
    return datetime.fromisoformat(item[sort])


class TestPaging:
    @pytest.mark.parametrize("sort", ["last_message_at", "created_at", "priority", "number"])
    @pytest.mark.parametrize("direction", ["asc", "desc"])
    async def test_pages_hold_each_ticket_once_in_order(
        self,
        client: httpx.AsyncClient,
        world: Any,
        inbox: Inbox,
        auth: Auth,
        sort: str,
        direction: str,
    ) -> None:
        """Pages of 2 under every sort (ties included) give each visible ticket exactly once,
        in the sort's order, ties broken by id."""
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(50):
            params: dict[str, Any] = {"limit": 2, "sort": sort, "direction": direction}
            if cursor:
                params["cursor"] = cursor
            response = await client.get("/tickets", headers=auth("primary"), params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        got = [uuid.UUID(t["id"]) for t in seen]
        assert len(got) == len(set(got))
        assert set(got) == await listed_ids(client, auth, "primary")
        expected = sorted(
            seen, key=lambda t: (sort_key(t, sort), uuid.UUID(t["id"])), reverse=direction == "desc"
        )
        assert [t["id"] for t in seen] == [t["id"] for t in expected]

    async def test_a_cursor_of_another_sort_is_refused(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        first = await client.get(
            "/tickets", headers=auth("primary"), params={"limit": 1, "sort": "number"}
        )
        cursor = first.json()["next_cursor"]
        assert cursor
        other = await client.get(
            "/tickets", headers=auth("primary"), params={"limit": 1, "cursor": cursor}
        )
        assert other.status_code == 400, other.text


class TestUnread:
    async def test_open_marks_read_and_unread_round_trips(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        """Unread until the caller opens it; read for them only; unread again on request."""
        ticket_id = world.tickets["support_2"].id

        async def unread_for(role: str) -> bool:
            [item] = [t for t in await listed(client, auth, role) if t["id"] == str(ticket_id)]
            return bool(item["unread"])

        assert await unread_for("backup")
        assert ticket_id in await listed_ids(client, auth, "backup", unread_only="true")
        opened = await client.get(f"/tickets/{ticket_id}", headers=auth("backup"))
        assert opened.status_code == 200
        assert not await unread_for("backup")
        assert ticket_id not in await listed_ids(client, auth, "backup", unread_only="true")
        assert await unread_for("primary")  # someone else's read is not mine

        marked = await client.post(f"/tickets/{ticket_id}/unread", headers=auth("backup"))
        assert marked.status_code == 204, marked.text
        assert await unread_for("backup")

    async def test_viewer_may_mark_unread(
        self, client: httpx.AsyncClient, world: Any, auth: Auth
    ) -> None:
        """Read state is the caller's own, not a change of the ticket: read-only roles too."""
        ticket_id = world.tickets["support_1"].id
        response = await client.post(f"/tickets/{ticket_id}/unread", headers=auth("viewer"))
        assert response.status_code == 204

    @pytest.mark.parametrize(
        ("role", "ticket"), [("primary", "sales_1"), ("admin_b", "support_1"), ("admin", "b_1")]
    )
    async def test_invisible_ticket_is_404(
        self, client: httpx.AsyncClient, world: Any, auth: Auth, role: str, ticket: str
    ) -> None:
        response = await client.post(
            f"/tickets/{world.tickets[ticket].id}/unread", headers=auth(role)
        )
        assert response.status_code == 404


class TestCounts:
    @pytest.mark.parametrize("role", ["admin", "primary", "backup", "viewer", "unassigned"])
    async def test_counts_match_the_list(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth, role: str
    ) -> None:
        """Every sidebar number is the length of the list it stands for; `all` for admins."""
        response = await client.get("/tickets/counts", headers=auth(role))
        assert response.status_code == 200, response.text
        counts = response.json()

        async def size(**params: Any) -> int:
            return len(await listed(client, auth, role, **params))

        assert counts["unread"] == await size(unread_only="true")
        assert counts["mine"] == await size(view="mine")
        assert counts["assigned_to_me"] == await size(view="assigned", status=["open", "pending"])
        assert counts["my_department"] == await size(view="department")
        assert counts["all"] == (await size(view="all") if role == "admin" else None)
        for status in ("open", "pending", "resolved", "closed"):
            assert counts["by_status"][status] == await size(status=status)

    async def test_other_tenant_counts_only_its_own(
        self, client: httpx.AsyncClient, world: Any, inbox: Inbox, auth: Auth
    ) -> None:
        response = await client.get("/tickets/counts", headers=auth("admin_b"))
        assert response.json()["all"] == 1
