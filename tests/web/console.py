"""Driving the console as its users do: mail in through ingest's signed webhook, a browser
page logged in through the login form, and the mail postdesk sent, from the mail sink."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, ViewportSize, expect
from postdesk_cli.demo import DEMO_PASSWORD, address
from postdesk_ingest.domain import signature_headers
from postdesk_testing import eventually

from tests.e2e.conftest import WEBHOOK_SECRET, Stack, login

REPO_ROOT = Path(__file__).parents[2]
WITHIN, INTERVAL = 30.0, 0.2  # six processes on a small machine: poll slowly, wait long
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
CUSTOMER = "carol@customer.example"


@dataclass(frozen=True)
class Delivered:
    """A customer mail that became a ticket."""

    subject: str
    message_id: str
    ticket_id: str


def customer_mail(
    *, to: str, subject: str, text: str, html: str | None = None, in_reply_to: str | None = None
) -> tuple[bytes, str]:
    """A customer's mail and its Message-ID (without the angle brackets); `in_reply_to` (with
    its angle brackets) makes it an answer."""
    message_id = f"{uuid.uuid4()}@customer.example"
    message = EmailMessage()
    message["From"] = f"Carol Customer <{CUSTOMER}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return bytes(message), message_id


async def deliver(
    stack: Stack, *, subject: str, to: str = address("cs"), text: str = "", html: str | None = None
) -> Delivered:
    """Post the mail to ingest's webhook and wait until the admin sees its ticket."""
    raw, message_id = customer_mail(to=to, subject=subject, text=text or subject, html=html)
    await post_to_ingest(stack, raw, to)
    async with httpx.AsyncClient(timeout=10) as client:
        admin = await login(client, stack.url("gateway"), address("admin"), DEMO_PASSWORD)

        async def ticket_id() -> str | None:
            found = await client.get(f"{stack.url('gateway')}/tickets", headers=admin)
            assert found.status_code == 200, found.text
            ids = [str(t["id"]) for t in found.json()["items"] if t["subject"] == subject]
            return ids[0] if ids else None

        return Delivered(
            subject, message_id, await eventually(ticket_id, within=WITHIN, interval=INTERVAL)
        )


async def post_to_ingest(stack: Stack, raw: bytes, to: str) -> None:
    """Hand the mail to ingest's signed webhook for the recipient `to`."""
    async with httpx.AsyncClient(timeout=10) as client:
        accepted = await client.post(
            f"{stack.url('ingest')}/webhooks/raw",
            content=raw,
            params={"rcpt": to},
            headers={"Content-Type": "message/rfc822", **signature_headers(WEBHOOK_SECRET, raw)},
        )
    assert accepted.status_code == 202, accepted.text


async def log_in(page: Page, stack: Stack, user: str, password: str = DEMO_PASSWORD) -> None:
    """Open the console at the gateway's / and submit the login form."""
    await page.goto(f"{stack.url('gateway')}/")
    await page.get_by_label("Email").fill(address(user))
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()


@asynccontextmanager
async def console_as(browser: Browser, stack: Stack, user: str) -> AsyncIterator[Page]:
    """A fresh browser context (no shared session) logged in as `user`, on the inbox."""
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        await log_in(page, stack, user)
        await expect(page.get_by_role("button", name="Log out")).to_be_visible()
        yield page
    finally:
        await context.close()


async def open_route(page: Page, stack: Stack, route: str) -> None:
    """Go to a hash route (`/tickets/<id>`) the way a user types it into the address bar."""
    await page.goto(f"{stack.url('gateway')}/#{route}")


async def sent_mail_containing(stack: Stack, text: str) -> EmailMessage:
    """The mail postdesk sent whose source holds `text`, once the mail sink has it."""

    async def kept() -> EmailMessage | None:
        for path in stack.sent_mail.glob("*.eml"):
            if text in path.read_text(errors="replace"):
                mail = message_from_bytes(path.read_bytes(), policy=policy.default)
                assert isinstance(mail, EmailMessage)
                return mail
        return None

    return await eventually(kept, within=WITHIN, interval=INTERVAL)


async def token_of(stack: Stack, user: str) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=10) as client:
        return await login(client, stack.url("gateway"), address(user), DEMO_PASSWORD)


async def account_id(stack: Stack, user: str, mailbox: str) -> str:
    """The id of `mailbox` (an address) among the accounts `user` has access to."""
    async with httpx.AsyncClient(timeout=10) as client:
        auth = await login(client, stack.url("gateway"), address(user), DEMO_PASSWORD)
        me = (await client.get(f"{stack.url('gateway')}/me", headers=auth)).json()
    return next(str(a["account_id"]) for a in me["accounts"] if a["address"] == mailbox)
