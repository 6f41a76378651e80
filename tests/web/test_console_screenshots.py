"""Screenshots of the console's main screens at 1280x800 for docs/console/, taken only when
POSTDESK_SCREENSHOTS=1 (so an ordinary test run does not rewrite the docs). The mailbox
gets a few customer mails first, so the screens show what they are for."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from postdesk_cli.demo import address

from tests.e2e.conftest import Stack
from tests.web.console import REPO_ROOT, VIEWPORT, account_id, console_as, deliver, open_route

pytestmark = pytest.mark.e2e

SCREENSHOTS = REPO_ROOT / "docs" / "console"
MAILS = [
    ("Order #1042 never arrived", "My kettle was due on Monday; tracking shows nothing."),
    ("Refund for a double charge", "I was charged twice for invoice 2026-11."),
    ("Change of delivery address", "Please send the parcel to my office instead."),
    ("Warranty claim: toaster", "The toaster stopped heating after three weeks."),
]


async def shoot(page: Page, name: str) -> Path:
    await page.wait_for_load_state("networkidle")
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


@pytest.mark.skipif(
    os.environ.get("POSTDESK_SCREENSHOTS") != "1", reason="set POSTDESK_SCREENSHOTS=1 to update"
)
async def test_screenshots_of_the_main_screens(browser: Browser, stack: Stack) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    delivered = [await deliver(stack, subject=subject, text=text) for subject, text in MAILS]

    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await page.goto(f"{stack.url('gateway')}/")
        await expect(page.get_by_label("Email")).to_be_visible()
        await shoot(page, "login")
    finally:
        await context.close()

    async with console_as(browser, stack, "john") as page:
        await expect(page.get_by_role("link", name=delivered[0].subject)).to_be_visible()
        await shoot(page, "inbox")
        await open_route(page, stack, f"/tickets/{delivered[0].ticket_id}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(delivered[0].subject)
        # the assignee's name once the ticket's staff list is in ("…" until then)
        await expect(page.locator(".ticket-facts")).not_to_contain_text("…")
        await shoot(page, "ticket")
        await open_route(page, stack, "/compose")
        await expect(page.get_by_label("Subject")).to_be_visible()
        await shoot(page, "compose")

    async with console_as(browser, stack, "admin") as page:
        await open_route(page, stack, "/admin/users")
        await expect(page.get_by_role("table").first).to_be_visible()
        await shoot(page, "admin-users")
        cs = await account_id(stack, "admin", address("cs"))
        await open_route(page, stack, f"/analytics?scope=account:{cs}")
        await expect(page.get_by_role("figure").first).to_be_visible()
        await shoot(page, "analytics")
