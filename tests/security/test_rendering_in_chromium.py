"""Hostile mail rendered by a headless Chromium: nothing injected runs.

The mails of `hostile_mail` (script and mutation-XSS payloads, charset tricks, active
attachments) went through the whole pipeline (`hostile_inbox`). Every payload, if it
ran, would log `pwned-<n>`, open an alert and beacon to a loopback listener.

Attacks and pass (no console line, no dialog, no request to the listener):
- the ticket shown the documented way (`chromium.TICKET_PAGE`: names and subjects as
  text, each message's HTML in an `<iframe sandbox srcdoc>`), for every mail; the subject
  must show as the literal text that was sent;
- the gateway's HTML of each message and the ticket JSON's `html_body`, each opened as a
  page of its own on a loopback origin with no CSP and no sandbox: the sanitiser alone;
- `GET /messages/{id}/html` opened directly in the browser (a tab, with the token): the
  gateway's CSP;
- each attachment URL opened directly: a download, never a document.
Control: the mail's original HTML opened alone trips the wires (the harness sees
script running), and the same HTML in the documented sandboxed frame does not (the
frame is a second line behind the sanitiser).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import suppress
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import urlencode

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Download, Error, Page

from tests.security.chromium import SETTLE_MS, TICKET_PAGE, Tripwires, launched_chromium
from tests.security.hostile_mail import NAME_PAYLOAD
from tests.security.hostile_stack import HostileInbox, LoopbackHttp

pytestmark = pytest.mark.e2e

HTML_MAILS = ("markup", "swallow100", "swallow101", "utf7", "iso2022", "metacharset", "remote")
LOAD_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    fresh = await browser.new_context()
    yield fresh
    await fresh.close()


async def shown_alone(page: Page, pages: LoopbackHttp, path: str, html: str) -> None:
    """`html` as a page of its own on the loopback origin: no CSP, no sandbox."""
    pages.pages[path] = html
    await page.goto(pages.url + path, timeout=LOAD_TIMEOUT_MS)


async def show_ticket(page: Page, inbox: HostileInbox, key: str) -> None:
    given = {"api": inbox.gateway, "token": inbox.token, "ticket": inbox.tickets[key]["id"]}
    await page.goto(f"{inbox.pages.url}/ticket.html#{urlencode(given)}")
    await page.wait_for_selector("body[data-shown=yes]", timeout=LOAD_TIMEOUT_MS)


async def watched_pages(context: BrowserContext, wires: Tripwires, count: int) -> list[Page]:
    return [wires.watch(await context.new_page()) for _ in range(count)]


async def all_shown(*loads: Awaitable[object]) -> None:
    """Every page loaded at once, then time for autofocus, timers and lazy loads to act."""
    await asyncio.gather(*loads)
    await asyncio.sleep(SETTLE_MS / 1000)


def original_html(inbox: HostileInbox, key: str) -> str:
    mail = message_from_bytes(inbox.mails[key].raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    body = mail.get_body(("html",))
    assert body is not None
    return str(body.get_content())


async def test_documented_ticket_view_runs_nothing(
    hostile_inbox: HostileInbox, context: BrowserContext
) -> None:
    """The frontend's way, for every mail: text as text, HTML in a sandboxed srcdoc frame."""
    keys = [*HTML_MAILS, "textonly"]
    hostile_inbox.pages.pages["/ticket.html"] = TICKET_PAGE
    wires = Tripwires(hostile_inbox.listener)
    pages = await watched_pages(context, wires, len(keys))
    await all_shown(
        *(show_ticket(page, hostile_inbox, key) for page, key in zip(pages, keys, strict=True))
    )
    for page, key in zip(pages, keys, strict=True):
        frames = await page.query_selector_all("iframe[sandbox]")
        assert len(frames) == (key != "textonly"), f"{key}: the message's HTML was not shown"
    assert await pages[0].inner_text("h1") == NAME_PAYLOAD
    assert wires.tripped() == {}


async def test_sanitised_html_alone_runs_nothing(
    hostile_inbox: HostileInbox, context: BrowserContext
) -> None:
    """What the gateway serves and what the ticket JSON holds, for every mail, each a page
    of its own without any CSP or sandbox."""
    documents: dict[str, str] = {}
    async with httpx.AsyncClient(headers=hostile_inbox.auth, timeout=30) as http:
        for key in HTML_MAILS:
            (message,) = hostile_inbox.messages(key)
            served = await http.get(f"{hostile_inbox.gateway}/messages/{message['id']}/html")
            assert served.status_code == 200
            documents[f"/served/{key}.html"] = served.text
            documents[f"/json/{key}.html"] = message["html_body"]
    wires = Tripwires(hostile_inbox.listener)
    pages = await watched_pages(context, wires, len(documents))
    await all_shown(
        *(
            shown_alone(page, hostile_inbox.pages, path, html)
            for page, (path, html) in zip(pages, documents.items(), strict=True)
        )
    )
    assert wires.tripped() == {}


async def test_gateway_html_opened_directly_runs_nothing(
    hostile_inbox: HostileInbox, browser: Browser
) -> None:
    """Each HTML URL opened as a page in the API's origin (with the token): its CSP holds."""
    context = await browser.new_context(extra_http_headers=hostile_inbox.auth)
    try:
        wires = Tripwires(hostile_inbox.listener)
        pages = await watched_pages(context, wires, len(HTML_MAILS))
        urls = [
            f"{hostile_inbox.gateway}/messages/{hostile_inbox.messages(key)[0]['id']}/html"
            for key in HTML_MAILS
        ]
        responses = await asyncio.gather(
            *(page.goto(url) for page, url in zip(pages, urls, strict=True))
        )
        assert [r.status if r else None for r in responses] == [200] * len(urls)
        await asyncio.sleep(SETTLE_MS / 1000)
        assert wires.tripped() == {}
    finally:
        await context.close()


async def downloaded(page: Page, url: str) -> Download:
    async with page.expect_download(timeout=LOAD_TIMEOUT_MS) as started:
        with suppress(Error):  # a navigation that becomes a download is "aborted"
            await page.goto(url)
    return await started.value


async def test_attachments_opened_directly_download(
    hostile_inbox: HostileInbox, browser: Browser
) -> None:
    """Every attachment URL, SVG and HTML ones included, opened in the browser: a download."""
    context = await browser.new_context(
        extra_http_headers=hostile_inbox.auth, accept_downloads=True
    )
    try:
        (message,) = hostile_inbox.messages("markup")
        wires = Tripwires(hostile_inbox.listener)
        pages = await watched_pages(context, wires, len(message["attachments"]))
        urls = [f"{hostile_inbox.gateway}/attachments/{a['id']}" for a in message["attachments"]]
        downloads = await asyncio.gather(
            *(downloaded(p, u) for p, u in zip(pages, urls, strict=True))
        )
        assert len(downloads) == len(urls)
        assert not [d.suggested_filename for d in downloads if "/" in d.suggested_filename]
        await asyncio.sleep(SETTLE_MS / 1000)
        assert wires.tripped() == {}
    finally:
        await context.close()


async def test_control_the_original_html_trips_the_wires(
    hostile_inbox: HostileInbox, context: BrowserContext
) -> None:
    """The harness sees script run: the unsanitised body alone trips console, dialog and
    beacon; in the documented sandboxed frame it trips nothing."""
    control = LoopbackHttp.start()
    try:
        raw = original_html(hostile_inbox, "markup").replace(
            hostile_inbox.listener.url, control.url
        )
        wires = Tripwires(control)
        page = wires.watch(await context.new_page())
        await all_shown(shown_alone(page, hostile_inbox.pages, "/control/raw.html", raw))
        tripped = wires.tripped()
        assert {"console", "dialogs", "requests"} <= tripped.keys(), tripped
        assert "pwned-0" in tripped["console"]  # a script element
        assert "pwned-1" in tripped["console"]  # an event handler

        boxed = Tripwires(control)
        framed = boxed.watch(await context.new_page())
        hostile_inbox.pages.pages["/control/raw-in-frame.html"] = "<iframe sandbox></iframe>"
        await framed.goto(f"{hostile_inbox.pages.url}/control/raw-in-frame.html")
        await framed.eval_on_selector("iframe", "(frame, html) => { frame.srcdoc = html; }", raw)
        await framed.wait_for_timeout(SETTLE_MS)
        assert boxed.tripped() == {}
    finally:
        control.stop()
