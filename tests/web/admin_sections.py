"""The admin screens' list sections walked through by the demo admin in the browser: each
change made in a form is checked in the page and in the database, and deletes are confirmed
in the browser's dialog (the `AdminConsole` accepts them and keeps their questions)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from playwright.async_api import Dialog, Page, expect
from postdesk_cli.demo import address
from postdesk_runtime.db import make_sessions
from postdesk_schema import (
    Department,
    DepartmentManager,
    ImapMailbox,
    InboundAddress,
    InboundDomain,
    SlaPolicy,
    User,
    WebhookDelivery,
    WebhookSubscription,
)
from postdesk_testing import eventually
from postdesk_testing.webhook_receiver import running_receiver
from sqlmodel import SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from tests.e2e.conftest import Stack
from tests.web.console import INTERVAL, WITHIN, open_route, token_of

Row = TypeVar("Row", bound=SQLModel)
CS = address("cs")
ADMIN_NAME = "Alice Admin"


@dataclass
class AdminConsole:
    """The admin's page, and the questions of the confirmation dialogs it accepted."""

    page: Page
    confirmed: list[str] = field(default_factory=list)

    async def accept(self, dialog: Dialog) -> None:
        self.confirmed.append(dialog.message)
        await dialog.accept()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def rows_of(stack: Stack, query: SelectOfScalar[Row]) -> Sequence[Row]:
    async with make_sessions(stack.engine)() as session:
        return (await session.scalars(query)).all()


async def one_of(stack: Stack, query: SelectOfScalar[Row]) -> Row:
    rows = await rows_of(stack, query)
    assert len(rows) == 1, rows
    return rows[0]


async def status(page: Page, text: str) -> None:
    """The section's success notice `text`, and no error beside it."""
    await expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_count(0)


async def department_with_a_manager(admin: AdminConsole, stack: Stack) -> None:
    """A new department (its routing and description stored), the admin made its manager."""
    page = admin.page
    department = unique("Returns")
    await open_route(page, stack, "/admin/departments")
    await page.get_by_role("button", name="New department").click()
    form = page.get_by_role("form", name="New department")
    await form.get_by_label("Name").fill(department)
    await form.get_by_label("Routing strategy").select_option(label="Round robin")
    await form.get_by_label("Description").fill("Parcels coming back")
    await form.get_by_role("button", name="Create department").click()
    await status(page, "Department created.")
    await expect(form).to_have_count(0)
    await expect(page.get_by_role("row").filter(has_text=department)).to_contain_text("Round robin")
    created = await one_of(stack, select(Department).where(col(Department.name) == department))
    assert (created.routing_strategy, created.description) == ("round_robin", "Parcels coming back")

    await page.get_by_role("button", name=f"Managers of {department}").click()
    managers = page.get_by_role("region", name=f"Managers of {department}")
    await managers.get_by_role("checkbox", name=f"{ADMIN_NAME} ({address('admin')})").check()
    await managers.get_by_role("button", name="Save managers").click()
    await expect(managers.get_by_role("status")).to_have_text("Managers saved.")
    managed = await rows_of(
        stack, select(DepartmentManager).where(col(DepartmentManager.department_id) == created.id)
    )
    admin_id = (await one_of(stack, select(User).where(col(User.email) == address("admin")))).id
    assert [m.user_id for m in managed] == [admin_id]


async def inbound_domain_and_address(admin: AdminConsole, stack: Stack, cs: uuid.UUID) -> None:
    """A domain with cs@ as its catch-all; an address (typed in capitals, stored lower-case)
    delivering to cs@."""
    page = admin.page
    domain = f"{unique('inbound')}.example"
    inbound_address = f"help@{domain}"
    await open_route(page, stack, "/admin/inbound")
    await page.get_by_role("button", name="New domain").click()
    form = page.get_by_role("form", name="New inbound domain")
    await form.get_by_label("Domain").fill(domain)
    await form.get_by_label("Catch-all account").select_option(label=CS)
    await form.get_by_role("button", name="Add domain").click()
    await status(page, "Domain added.")
    domains = page.get_by_role("table", name="Inbound domains")
    await expect(domains.get_by_role("row").filter(has_text=domain)).to_contain_text(CS)
    stored_domain = await one_of(
        stack, select(InboundDomain).where(col(InboundDomain.domain) == domain)
    )
    assert stored_domain.catch_all_account_id == cs

    await page.get_by_role("button", name="New address").click()
    form = page.get_by_role("form", name="New inbound address")
    await form.get_by_label("Inbound address").fill(inbound_address.upper())
    await form.get_by_label("Delivers to account").select_option(label=CS)
    await form.get_by_role("button", name="Add address").click()
    await status(page, "Address added.")
    addresses = page.get_by_role("table", name="Inbound addresses")
    await expect(addresses.get_by_role("row").filter(has_text=inbound_address)).to_contain_text(
        "active"
    )
    stored_address = await one_of(
        stack, select(InboundAddress).where(col(InboundAddress.address) == inbound_address)
    )
    assert (stored_address.account_id, stored_address.is_active) == (cs, True)


async def imap_mailbox_saved_and_deleted(admin: AdminConsole, stack: Stack, cs: uuid.UUID) -> None:
    """The browser refuses a mailbox without its password; saved inactive (so ingest does not
    connect to it), its password stored sealed, then deleted."""
    page = admin.page
    imap_user = unique("fetcher")
    await page.get_by_role("button", name="New IMAP mailbox").click()
    form = page.get_by_role("form", name="New IMAP mailbox")
    await form.get_by_label("Delivers to account").select_option(label=CS)
    await form.get_by_label("Host", exact=True).fill("127.0.0.1")
    await form.get_by_label("Port", exact=True).fill("1143")
    await form.get_by_label("Security").select_option(label="none (plain)")
    await form.get_by_label("Username").fill(imap_user)
    await form.get_by_role("checkbox", name="Active").uncheck()
    await form.get_by_role("button", name="Add mailbox").click()
    password = form.get_by_label("IMAP password")
    assert await password.evaluate("input => input.validity.valueMissing")
    await expect(form).to_be_visible()
    assert await rows_of(stack, select(ImapMailbox)) == []
    await password.fill("imap-secret-1")
    await form.get_by_role("button", name="Add mailbox").click()
    await status(page, "Mailbox added.")
    mailboxes = page.get_by_role("table", name="IMAP mailboxes")
    await expect(mailboxes.get_by_role("row").filter(has_text=imap_user)).to_contain_text(
        "inactive"
    )
    mailbox = await one_of(stack, select(ImapMailbox).where(col(ImapMailbox.username) == imap_user))
    assert (mailbox.port, mailbox.security, mailbox.is_active) == (1143, "plain", False)
    assert "imap-secret-1" not in mailbox.password_ciphertext
    await page.get_by_role("button", name=f"Delete {imap_user}@127.0.0.1").click()
    await status(page, "Mailbox deleted.")
    await expect(mailboxes).to_have_count(0)
    assert await rows_of(stack, select(ImapMailbox)) == []


async def sla_policy_created_edited_deleted(admin: AdminConsole, stack: Stack) -> uuid.UUID:
    """A policy for urgent tickets, its first response target raised, then deleted; its id."""
    page = admin.page
    policy = unique("Urgent")
    await open_route(page, stack, "/admin/sla")
    await page.get_by_role("button", name="New policy").click()
    form = page.get_by_role("form", name="New SLA policy")
    await form.get_by_label("Name").fill(policy)
    await form.get_by_label("Priority scope").select_option("urgent")
    await form.get_by_label("First response (minutes)").fill("30")
    await form.get_by_label("Resolution (minutes)").fill("240")
    await form.get_by_role("button", name="Create policy").click()
    await status(page, "Policy created.")
    row = page.get_by_role("row").filter(has_text=policy)
    await expect(row).to_contain_text("urgent priority")
    await expect(row).to_contain_text("30 min")
    stored_policy = await one_of(stack, select(SlaPolicy).where(col(SlaPolicy.name) == policy))
    assert (stored_policy.priority, stored_policy.resolution_minutes) == ("urgent", 240)

    await page.get_by_role("button", name=f"Edit {policy}").click()
    form = page.get_by_role("form", name=f"Edit {policy}")
    await expect(form.get_by_label("First response (minutes)")).to_have_value("30")
    await form.get_by_label("First response (minutes)").fill("45")
    await form.get_by_role("button", name="Save policy").click()
    await status(page, "Policy saved.")
    await expect(row).to_contain_text("45 min")
    edited = await one_of(stack, select(SlaPolicy).where(col(SlaPolicy.id) == stored_policy.id))
    assert edited.first_response_minutes == 45

    await page.get_by_role("button", name=f"Delete {policy}").click()
    await status(page, "Policy deleted.")
    await expect(row).to_have_count(0)
    assert admin.confirmed[-1] == f"Delete the SLA policy {policy}?"
    assert await rows_of(stack, select(SlaPolicy).where(col(SlaPolicy.name) == policy)) == []
    return stored_policy.id


async def webhook_tested_and_deleted(admin: AdminConsole, stack: Stack) -> None:
    """Private targets allowed, a subscription of a local receiver (its secret shown once), a
    test delivery signed with that secret and shown delivered, then the subscription deleted."""
    page = admin.page
    async with running_receiver(secret="shown once") as receiver:
        await open_route(page, stack, "/admin/webhooks")
        settings = page.get_by_role("form", name="Webhook settings")
        await settings.get_by_role("checkbox", name="Allow private").check()
        await settings.get_by_role("button", name="Save webhook settings").click()
        await expect(settings.get_by_role("status")).to_have_text("Webhook settings saved.")
        async with httpx.AsyncClient(timeout=10) as client:
            stored = await client.get(
                f"{stack.url('gateway')}/admin/webhook-settings",
                headers=await token_of(stack, "admin"),
            )
        assert stored.json() == {"allow_private_targets": True}, stored.text

        url = receiver.url("/ok")
        await page.get_by_role("button", name="New webhook").click()
        form = page.get_by_role("form", name="New webhook")
        await form.get_by_label("URL").fill(url)
        await form.get_by_label("Description").fill("The browser test's receiver")
        await form.get_by_role("checkbox", name="sla.breached").check()
        await form.get_by_role("button", name="Create webhook").click()
        await status(page, "Webhook created.")
        secret = page.get_by_role("status").filter(has_text=f"Signing secret of {url}")
        receiver.secret = await secret.locator("code").inner_text()
        await secret.get_by_role("button", name="Done").click()
        await expect(secret).to_have_count(0)
        await expect(page.get_by_role("row").filter(has_text=url)).to_contain_text("sla.breached")
        subscription = await one_of(
            stack, select(WebhookSubscription).where(col(WebhookSubscription.url) == url)
        )

        await page.get_by_role("button", name=f"Test {url}").click()
        await status(page, "Test delivery (webhook.ping) queued")
        deliveries = page.get_by_role("region", name=f"Deliveries to {url}")
        await expect(deliveries.get_by_role("row").filter(has_text="webhook.ping")).to_be_visible()

        async def delivered() -> WebhookDelivery | None:
            found = await one_of(
                stack,
                select(WebhookDelivery).where(
                    col(WebhookDelivery.subscription_id) == subscription.id
                ),
            )
            return found if found.status == "delivered" else None

        await eventually(delivered, within=WITHIN, interval=INTERVAL)
        assert [r.signature_ok for r in receiver.received] == [True]
        await deliveries.get_by_role("button", name="Refresh deliveries").click()
        await expect(deliveries.get_by_role("row").filter(has_text="webhook.ping")).to_contain_text(
            "delivered"
        )

        await page.get_by_role("button", name=f"Delete {url}").click()
        await status(page, "Webhook deleted.")
        await expect(deliveries).to_have_count(0)
        await expect(page.get_by_role("row").filter(has_text=url)).to_have_count(0)
        assert admin.confirmed[-1] == f"Delete the webhook to {url} and its deliveries?"
        assert (
            await rows_of(
                stack, select(WebhookSubscription).where(col(WebhookSubscription.url) == url)
            )
            == []
        )
