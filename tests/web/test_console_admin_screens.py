"""The admin screens driven in Chromium by the demo admin against the real gateway: the
list sections (tests/web/admin_sections.py) checked in the page and in the database, then
the audit and processing logs showing, filtering and paging what happened.

Both tests share one logged-in page (the module's `admin`), so the module stays fast."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect
from postdesk_schema import AuditLog, EmailProcessingLog
from sqlmodel import col, select

from tests.e2e.conftest import Stack
from tests.web.admin_sections import (
    ADMIN_NAME,
    CS,
    AdminConsole,
    department_with_a_manager,
    imap_mailbox_saved_and_deleted,
    inbound_domain_and_address,
    rows_of,
    sla_policy_created_edited_deleted,
    unique,
    webhook_tested_and_deleted,
)
from tests.web.console import account_id, console_as, deliver, open_route, token_of

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def admin(browser: Browser, stack: Stack) -> AsyncIterator[AdminConsole]:
    async with console_as(browser, stack, "admin") as page:
        console = AdminConsole(page)
        page.on("dialog", console.accept)
        yield console


async def test_admin_sets_up_departments_inbound_sla_webhooks_and_imap(
    admin: AdminConsole, stack: Stack
) -> None:
    """Each list section creates, edits and deletes through its form and row buttons; the
    audit log then lists those changes and filters them by object."""
    page = admin.page
    cs = uuid.UUID(await account_id(stack, "admin", CS))
    await department_with_a_manager(admin, stack)
    await inbound_domain_and_address(admin, stack, cs)
    await imap_mailbox_saved_and_deleted(admin, stack, cs)
    policy_id = await sla_policy_created_edited_deleted(admin, stack)
    await webhook_tested_and_deleted(admin, stack)

    # the audit log lists the changes, newest first, and filters them by object
    await open_route(page, stack, "/admin/audit-log")
    log = page.get_by_role("table", name="Audit log")
    for action in (
        "webhook.deleted",
        "webhook.tested",
        "webhook.created",
        "sla_policy.deleted",
        "imap_mailbox.deleted",
        "imap_mailbox.created",
        "inbound_address.created",
        "inbound_domain.created",
        "department.created",
    ):
        await expect(log.get_by_role("row").filter(has_text=action).first).to_contain_text(
            ADMIN_NAME
        )
    filters = page.get_by_role("form", name="Audit log filters")
    await filters.get_by_label("Object id").fill(str(policy_id))
    await filters.get_by_role("button", name="Apply filters").click()
    await expect(log.get_by_role("row")).to_have_count(4)  # the header and three changes
    for n, action in enumerate(("deleted", "updated", "created"), start=1):
        await expect(log.get_by_role("row").nth(n)).to_contain_text(f"sla_policy.{action}")
    await expect(log.get_by_role("row").nth(2)).to_contain_text('"first_response_minutes":45')


async def test_admin_pages_and_filters_the_audit_and_processing_logs(
    admin: AdminConsole, stack: Stack
) -> None:
    """The audit log pages through more rows than fit on one page and clears its filters;
    the processing log finds a mail's rows by its Message-ID and stage, and says when an
    event id filter is not a UUID."""
    page = admin.page
    gateway = stack.url("gateway")
    name = unique("Paged")
    async with httpx.AsyncClient(timeout=10) as client:
        auth = await token_of(stack, "admin")
        made = await client.post(f"{gateway}/admin/departments", json={"name": name}, headers=auth)
        assert made.status_code == 201, made.text
        department = made.json()["id"]
        for n in range(50):
            changed = await client.patch(
                f"{gateway}/admin/departments/{department}",
                json={"description": f"revision {n}"},
                headers=auth,
            )
            assert changed.status_code == 200, changed.text
    stored = await rows_of(stack, select(AuditLog).where(col(AuditLog.object_id) == department))
    assert len(stored) == 51

    await open_route(page, stack, "/admin/audit-log")
    log = page.get_by_role("table", name="Audit log")
    await expect(log).to_be_visible()
    filters = page.get_by_role("form", name="Audit log filters")
    await filters.get_by_label("Actor").select_option(label=ADMIN_NAME)
    await filters.get_by_label("Object type").fill("department")
    await filters.get_by_label("Object id").fill(department)
    await filters.get_by_role("button", name="Apply filters").click()
    pages = page.get_by_role("navigation", name="Pages")
    await expect(pages).to_contain_text("Page 1")
    await expect(log.get_by_role("row")).to_have_count(51)  # the header and 50 changes
    await expect(log.get_by_role("row").nth(1)).to_contain_text("revision 49")

    await pages.get_by_role("button", name="Next page").click()
    await expect(pages).to_contain_text("Page 2")
    await expect(pages.get_by_role("button", name="Next page")).to_be_disabled()
    await expect(log.get_by_role("row")).to_have_count(2)
    await expect(log.get_by_role("row").nth(1)).to_contain_text("department.created")
    await pages.get_by_role("button", name="Previous page").click()
    await expect(pages).to_contain_text("Page 1")

    await filters.get_by_label("Action", exact=True).fill("department.created")
    await filters.get_by_role("button", name="Apply filters").click()
    await expect(log.get_by_role("row")).to_have_count(2)
    await expect(pages).to_have_count(0)

    await filters.get_by_role("button", name="Clear filters").click()
    for label in ("Action", "Object type", "Object id"):
        await expect(filters.get_by_label(label)).to_have_value("")
    await expect(filters.get_by_label("Actor")).to_have_value("")
    await expect(pages).to_contain_text("Page 1")  # every row of the tenant: more than a page
    await expect(log.get_by_role("row")).to_have_count(51)

    await processing_log_filters(page, stack)


async def processing_log_filters(page: Page, stack: Stack) -> None:
    """A fresh mail's rows of the tenant (the router's; the parser's before routing have no
    tenant) found by its Message-ID as a user pastes it, with brackets, then by stage."""
    mail = await deliver(stack, subject=unique("Processing log"))
    rows = await rows_of(
        stack,
        select(EmailProcessingLog).where(
            col(EmailProcessingLog.message_id_header) == mail.message_id,
            col(EmailProcessingLog.tenant_id) == stack.demo.tenant_id,
        ),
    )
    assert {row.stage for row in rows} == {"router"}, rows

    await open_route(page, stack, "/admin/processing-log")
    log = page.get_by_role("table", name="Processing log")
    await expect(log).to_be_visible()
    filters = page.get_by_role("form", name="Processing log filters")
    await filters.get_by_label("Message-ID").fill(f"<{mail.message_id}>")
    await filters.get_by_role("button", name="Apply filters").click()
    await expect(log.get_by_role("row")).to_have_count(len(rows) + 1)
    await filters.get_by_label("Stage").select_option("ingest")
    await filters.get_by_role("button", name="Apply filters").click()
    await expect(page.get_by_text("No processing log rows match.")).to_be_visible()
    await filters.get_by_label("Stage").select_option("router")
    await filters.get_by_role("button", name="Apply filters").click()
    await expect(log.get_by_role("row")).to_have_count(2)
    await expect(log.get_by_role("row").nth(1)).to_contain_text(mail.message_id)

    await filters.get_by_label("Event id").fill("not-a-uuid")
    await filters.get_by_role("button", name="Apply filters").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "The event id filter is not a UUID; it is left out."
    )
    await expect(log.get_by_role("row")).to_have_count(2)
    await filters.get_by_role("button", name="Clear filters").click()
    await expect(page.get_by_role("alert")).to_have_count(0)
    await expect(filters.get_by_label("Message-ID")).to_have_value("")
    await expect(log.get_by_role("row").filter(has_text=mail.message_id)).to_have_count(len(rows))
