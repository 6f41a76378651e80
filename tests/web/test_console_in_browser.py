"""The console at the gateway's /, driven in Chromium as each demo role uses it: logging
in, what each role sees, answering a customer's mail end to end, what a viewer cannot do
(in the page and on the server), and hostile HTML that must run nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Dialog, expect
from postdesk_cli.demo import address
from postdesk_testing import eventually

from tests.e2e.conftest import Stack
from tests.security.chromium import SETTLE_MS
from tests.web.console import (
    CUSTOMER,
    INTERVAL,
    VIEWPORT,
    WITHIN,
    Delivered,
    account_id,
    console_as,
    customer_mail,
    deliver,
    log_in,
    open_route,
    post_to_ingest,
    sent_mail_containing,
    token_of,
)

pytestmark = pytest.mark.e2e


def unique(subject: str) -> str:
    return f"{subject} {uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cs_ticket(stack: Stack) -> Delivered:
    """A customer's mail to cs@, the shared mailbox john answers and victor only reads."""
    return await deliver(stack, subject=unique("Blender arrived broken"), text="The jar cracked.")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sales_ticket(stack: Stack) -> Delivered:
    return await deliver(stack, subject=unique("Volume discount?"), to=address("sales"))


@pytest.mark.parametrize("user", ["admin", "john", "sara", "victor"])
async def test_each_role_logs_in_to_the_inbox(browser: Browser, stack: Stack, user: str) -> None:
    async with console_as(browser, stack, user) as page:
        await expect(page.get_by_label("Search")).to_be_visible()
        await expect(page.get_by_role("link", name="Inbox", exact=True).first).to_be_visible()


async def test_viewer_sees_only_cs_and_cannot_compose(
    browser: Browser, stack: Stack, cs_ticket: Delivered, sales_ticket: Delivered
) -> None:
    async with console_as(browser, stack, "victor") as page:
        await expect(page.get_by_role("link", name=cs_ticket.subject)).to_be_visible()
        await expect(page.get_by_role("link", name=sales_ticket.subject)).to_have_count(0)
        await expect(page.get_by_role("link", name="Compose")).to_have_count(0)
        await expect(page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)


async def test_admin_sees_all_tickets_and_admin(browser: Browser, stack: Stack) -> None:
    async with console_as(browser, stack, "admin") as page:
        await expect(page.get_by_role("link", name="All tickets")).to_be_visible()
        await page.get_by_role("link", name="Admin", exact=True).click()
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await expect(page.get_by_role("alert")).to_have_count(0)


async def test_admin_changes_and_tests_the_tenants_smtp_server(
    browser: Browser, stack: Stack
) -> None:
    """The SMTP section shows the demo's server (the stack's mail sink), saves a change the
    API then reports, and its test reaches the sink."""
    async with console_as(browser, stack, "admin") as page:
        await open_route(page, stack, "/admin/smtp")
        await expect(page.get_by_role("textbox", name="Host")).to_have_value("127.0.0.1")
        await page.get_by_role("spinbutton", name="Timeout (seconds)").fill("21")
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.get_by_role("status").first).to_be_visible()
        await page.get_by_role("button", name="Test SMTP").click()
        await expect(page.get_by_text("SMTP test succeeded.")).to_be_visible()
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{stack.url('gateway')}/admin/smtp", headers=await token_of(stack, "admin")
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["default"]["timeout_seconds"] == 21


async def test_member_typing_the_admin_route_is_refused(browser: Browser, stack: Stack) -> None:
    async with console_as(browser, stack, "john") as page:
        await open_route(page, stack, "/admin/users")
        await expect(page.get_by_role("alert")).to_contain_text("admin")
        await expect(page.get_by_role("button", name="Log out")).to_be_visible()


async def test_wrong_password_shows_an_error(browser: Browser, stack: Stack) -> None:
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await log_in(page, stack, "john", password="not-the-password")
        await expect(page.get_by_role("alert")).to_be_visible()
        await expect(page.get_by_role("button", name="Log out")).to_have_count(0)
        await expect(page.get_by_label("Password")).to_be_visible()
    finally:
        await context.close()


async def test_primary_answers_and_resolves_in_the_ticket_screen(
    browser: Browser, stack: Stack, cs_ticket: Delivered
) -> None:
    answer = f"We send a new jar today ({uuid.uuid4().hex[:8]})."
    async with console_as(browser, stack, "john") as page:
        await page.get_by_role("link", name=cs_ticket.subject).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(cs_ticket.subject)
        await page.get_by_role("textbox", name="Reply", exact=True).fill(answer)
        await page.get_by_role("checkbox", name="Resolve after sending").check()
        await page.get_by_role("button", name="Send", exact=True).click()

        mail = await sent_mail_containing(stack, answer)
        assert mail["To"].addresses[0].addr_spec == CUSTOMER
        assert mail["From"].addresses[0].addr_spec == address("cs")
        assert mail["In-Reply-To"] == f"<{cs_ticket.message_id}>"
        status = page.get_by_role("combobox", name="Status", exact=True)
        await expect(status).to_have_value("resolved", timeout=15_000)


async def ticket_messages(stack: Stack, user: str, ticket_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as client:
        found = await client.get(
            f"{stack.url('gateway')}/tickets/{ticket_id}", headers=await token_of(stack, user)
        )
    assert found.status_code == 200, found.text
    messages: list[dict[str, Any]] = found.json()["messages"]
    return messages


async def test_a_reply_from_another_mailbox_and_the_answer_to_it_stay_on_the_ticket(
    browser: Browser, stack: Stack
) -> None:
    """john answers a cs@ ticket from his own mailbox (the From select); the customer's
    answer to that address comes back to the same ticket (ADR 0016)."""
    asked = await deliver(stack, subject=unique("Where is my parcel"), text="No parcel yet.")
    answer = f"It left today ({uuid.uuid4().hex[:8]})."
    own = await account_id(stack, "john", address("john"))
    async with console_as(browser, stack, "john") as page:
        await open_route(page, stack, f"/tickets/{asked.ticket_id}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(asked.subject)
        sender = page.get_by_role("combobox", name="From", exact=True)
        await expect(sender).to_have_value(await account_id(stack, "john", address("cs")))
        await sender.select_option(value=own)
        await page.get_by_role("textbox", name="Reply", exact=True).fill(answer)
        await page.get_by_role("button", name="Send", exact=True).click()
        mail = await sent_mail_containing(stack, answer)
    assert mail["From"].addresses[0].addr_spec == address("john")
    reply_to = mail["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith("john+")

    thanks = f"Got it, thanks ({uuid.uuid4().hex[:8]})."
    raw, _ = customer_mail(
        to=reply_to, subject=f"Re: {asked.subject}", text=thanks, in_reply_to=mail["Message-ID"]
    )
    await post_to_ingest(stack, raw, reply_to)

    async def answered() -> bool | None:
        texts = [m["text_body"] for m in await ticket_messages(stack, "admin", asked.ticket_id)]
        return True if any(thanks in t for t in texts) else None

    assert await eventually(answered, within=WITHIN, interval=INTERVAL)


async def test_a_scheduled_reply_shows_when_it_goes(browser: Browser, stack: Stack) -> None:
    asked = await deliver(stack, subject=unique("Call me Friday"), text="Friday works.")
    answer = f"We will call on Friday ({uuid.uuid4().hex[:8]})."
    async with console_as(browser, stack, "john") as page:
        await open_route(page, stack, f"/tickets/{asked.ticket_id}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(asked.subject)
        await page.get_by_role("textbox", name="Reply", exact=True).fill(answer)
        await page.get_by_role("checkbox", name="Send later").check()
        # two days ahead in the browser's own time zone, as the datetime-local input takes it
        later = await page.evaluate(
            """() => {
                const d = new Date(Date.now() + 2 * 86400000);
                const p = (n) => String(n).padStart(2, "0");
                return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}` +
                    `T${p(d.getHours())}:${p(d.getMinutes())}`;
            }"""
        )
        await page.get_by_label("Send at").fill(later)
        await page.get_by_role("button", name="Send", exact=True).click()

        async def recorded() -> bool | None:
            messages = await ticket_messages(stack, "john", asked.ticket_id)
            return (
                True if any(answer in m["text_body"] and m["send_at"] for m in messages) else None
            )

        await eventually(recorded, within=WITHIN, interval=INTERVAL)
        await page.reload()
        state = page.locator(".delivery-state")
        await expect(state).to_contain_text("Scheduled for")
        await expect(state).not_to_contain_text("not sent yet")


async def test_viewer_cannot_answer_in_the_page_nor_on_the_server(
    browser: Browser, stack: Stack, cs_ticket: Delivered
) -> None:
    async with console_as(browser, stack, "victor") as page:
        await open_route(page, stack, f"/tickets/{cs_ticket.ticket_id}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(cs_ticket.subject)
        await expect(page.get_by_role("textbox", name="Reply", exact=True)).to_have_count(0)
        await expect(page.get_by_role("button", name="Send", exact=True)).to_have_count(0)
        status = page.get_by_role("combobox", name="Status", exact=True)
        if await status.count():
            await expect(status).to_be_disabled()

    victor = await token_of(stack, "victor")
    async with httpx.AsyncClient(timeout=10) as client:
        refused = await client.post(
            f"{stack.url('gateway')}/tickets/{cs_ticket.ticket_id}/replies",
            json={"text": "A viewer must not send this."},
            headers=victor,
        )
    assert refused.status_code in (403, 404), refused.text


SCRIPTED_HTML = """<html><body>
<p>Please see the attached invoice.</p>
<script>console.log("pwned by script"); alert("pwned by script");</script>
<img src="data:," onerror="console.log('pwned by onerror'); alert('pwned by onerror')">
<svg onload="alert('pwned by svg')"></svg>
<a href="javascript:alert('pwned by link')">invoice</a>
</body></html>"""


async def test_console_page_carries_its_csp(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(f"{stack.url('gateway')}/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "unsafe-eval" not in csp


async def test_scripted_mail_runs_nothing_in_the_ticket_screen(
    browser: Browser, stack: Stack
) -> None:
    hostile = await deliver(
        stack, subject=unique("Invoice attached"), text="See the HTML part.", html=SCRIPTED_HTML
    )
    ran: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "pwned" in message.text:
            ran.append(message.text)

    async def on_dialog(dialog: Dialog) -> None:
        ran.append(f"dialog: {dialog.message}")
        await dialog.dismiss()

    async with console_as(browser, stack, "john") as page:
        page.on("console", on_console)
        page.on("dialog", on_dialog)
        await open_route(page, stack, f"/tickets/{hostile.ticket_id}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(hostile.subject)
        await page.get_by_role("button", name="Show full message").click()
        frame = page.locator("iframe[srcdoc]").first
        await expect(frame).to_have_attribute("sandbox", "")
        await expect(
            frame.content_frame.get_by_text("Please see the attached invoice.")
        ).to_be_visible()
        await page.wait_for_timeout(SETTLE_MS)
    assert ran == []


async def test_analytics_charts_a_mailbox_and_exports_it(
    browser: Browser, stack: Stack, cs_ticket: Delivered
) -> None:
    async with console_as(browser, stack, "john") as page:
        await page.get_by_role("link", name="Analytics").click()
        report = page.get_by_role("combobox", name="Report")
        await report.select_option(label="Acme Cs <cs@acme.example>")
        trend = page.get_by_role("figure").filter(has_text="Tickets created per day")
        await expect(trend).to_be_visible()
        await expect(trend.get_by_role("table")).to_contain_text("Tickets")
        await expect(page.get_by_role("figure").filter(has_text="SLA compliance")).to_be_visible()
        async with page.expect_download() as download:
            await page.get_by_role("button", name="Download CSV").click()
        csv = Path(await (await download.value).path()).read_text()
    assert csv.startswith("section,item,metric,value")
