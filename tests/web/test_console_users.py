"""The users screen in Chromium, driven by the demo admin against the real services:
deactivating an agent hands their open tickets to a colleague chosen in the confirmation."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import Browser, expect
from postdesk_cli.demo import address
from postdesk_runtime.db import make_sessions
from postdesk_schema import Ticket, User
from sqlmodel import col, select

from tests.e2e.conftest import Stack
from tests.web.console import account_id, console_as, deliver, open_route, token_of

pytestmark = pytest.mark.e2e

NEW_ASSIGNEE = "Sara Lee"  # the demo's backup on cs@


async def leaver_holding_a_ticket(stack: Stack) -> tuple[str, str]:
    """A new agent with a backup assignment on cs@ and a customer's ticket assigned to them:
    their full name and the ticket's id."""
    gateway = stack.url("gateway")
    name = f"Leaving Agent {uuid.uuid4().hex[:6]}"
    cs = await account_id(stack, "admin", address("cs"))
    delivered = await deliver(stack, subject=f"Question for {name}")
    async with httpx.AsyncClient(timeout=10) as client:
        auth = await token_of(stack, "admin")
        login = f"leaver-{uuid.uuid4().hex[:8]}@staff.example"
        made = await client.post(
            f"{gateway}/admin/users", json={"email": login, "full_name": name}, headers=auth
        )
        assert made.status_code == 201, made.text
        leaver = made.json()["id"]
        assigned = await client.post(
            f"{gateway}/admin/assignments",
            json={"account_id": cs, "user_id": leaver, "role": "backup"},
            headers=auth,
        )
        assert assigned.status_code == 201, assigned.text
        given = await client.patch(
            f"{gateway}/tickets/{delivered.ticket_id}",
            json={"assignee_id": leaver, "status": "pending"},
            headers=auth,
        )
        assert given.status_code == 200, given.text
    return name, delivered.ticket_id


async def test_deactivating_a_user_reassigns_their_open_tickets(
    browser: Browser, stack: Stack
) -> None:
    """The confirmation offers the three choices; reassigning to a colleague picked from the
    active users moves the open ticket and the list says how many moved."""
    name, ticket_id = await leaver_holding_a_ticket(stack)
    async with console_as(browser, stack, "admin") as page:
        await open_route(page, stack, "/admin/users")
        await page.get_by_label("Search users").fill(name)
        await page.get_by_role("button", name=f"Manage {name}").click()
        await page.get_by_role("button", name="Deactivate user").click()
        form = page.get_by_role("form", name=f"Deactivate {name}")
        choices = form.get_by_role("group", name="Their open tickets")
        for choice in ("Keep them", "Leave them unassigned", "Reassign them all"):
            await expect(choices.get_by_role("radio", name=choice)).to_be_visible()
        await expect(choices.get_by_role("radio", name="Keep them")).to_be_checked()
        await choices.get_by_role("radio", name="Reassign them all").check()
        picker = form.get_by_label("Reassign to")
        await expect(picker.get_by_role("option", name=name)).to_have_count(0)
        await picker.select_option(label=NEW_ASSIGNEE)
        await form.get_by_role("button", name="Deactivate user").click()
        done = f"{name} deactivated; 1 open ticket reassigned to {NEW_ASSIGNEE}."
        await expect(page.get_by_role("status").filter(has_text=done)).to_be_visible()
        await expect(page.get_by_role("alert")).to_have_count(0)

    async with make_sessions(stack.engine)() as session:
        ticket = await session.get(Ticket, uuid.UUID(ticket_id))
        sara = (await session.scalars(select(User).where(col(User.email) == address("sara")))).one()
        leaver = (await session.scalars(select(User).where(col(User.full_name) == name))).one()
    assert ticket is not None
    assert ticket.assignee_id == sara.id
    assert leaver.is_active is False
