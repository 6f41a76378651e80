"""Remote content in hostile mail: nothing fetches it, on the server or in the browser.

The `remote` mail of `hostile_mail` carries tracking pixels, srcset and <picture>
sources, <link> and @import style sheets, background images (attribute, inline style,
style sheet), a video poster, an image input, frames, objects, an SVG image, a meta
refresh, a List-Unsubscribe URL, a Content-Base and a message/external-body part, all
aimed at a loopback listener the test runs, under its address, `localhost`,
`rebind.localhost` (a name the browser resolves to loopback, as a rebinding DNS name
would), the address in decimal, https and without a scheme.

Pass:
- the listener gets no request while every service processes the mail and the gateway
  serves its ticket, HTML and attachments (the server never fetches);
- the ticket JSON's HTML keeps each remote image only as `data-blocked-src`, which no
  browser loads, and nothing else that would load the listener; the gateway's HTML
  drops those too and names the listener only in a link nobody clicks;
- rendered in Chromium as documented, no request either: see
  test_rendering_in_chromium.py, whose tripwires count every request to this listener,
  for this mail too.
Control: the mail's original HTML, opened alone in Chromium, does reach a listener,
under every kind of host name (so the names do lead to loopback), also from inside the
documented sandboxed frame: what keeps the browser from loading remote content is the
sanitising, not the frame.

There is no "load remote images" action in the API: a frontend that offers one would
move `data-blocked-src` back to `src` in the reader's browser (docs/security.md).
"""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
import pytest
from playwright.async_api import Page

from tests.security.active_content import active_content
from tests.security.chromium import SETTLE_MS, launched_chromium
from tests.security.hostile_stack import HostileInbox, LoopbackHttp

pytestmark = pytest.mark.e2e

BLOCKED_SRC = re.compile(r'data-blocked-src="([^"]*)"')


async def test_no_service_fetches_remote_content(hostile_inbox: HostileInbox) -> None:
    """Ingest, parser, router, notifier, outbound and the gateway: not one request."""
    (message,) = hostile_inbox.messages("remote")
    async with httpx.AsyncClient(
        base_url=hostile_inbox.gateway, headers=hostile_inbox.auth, timeout=30
    ) as http:
        reads = [
            f"/tickets/{hostile_inbox.tickets['remote']['id']}",
            f"/messages/{message['id']}/html",
            *(f"/attachments/{a['id']}" for a in message["attachments"]),
        ]
        for path in reads:
            assert (await http.get(path)).status_code == 200, path
    await asyncio.sleep(1)  # a fetch started by any of those reads would have arrived
    assert hostile_inbox.listener.requests == []


async def test_remote_images_stay_blocked(hostile_inbox: HostileInbox) -> None:
    """Remote images survive only as data-blocked-src; nothing else loads the listener."""
    port_marker = f":{hostile_inbox.listener.port}/"
    (message,) = hostile_inbox.messages("remote")
    blocked = BLOCKED_SRC.findall(message["html_body"])
    assert blocked, "the remote images were not kept for a reader to load"
    assert all(port_marker in url for url in blocked), blocked
    assert active_content(message["html_body"], port_marker) == []
    async with httpx.AsyncClient(headers=hostile_inbox.auth, timeout=30) as http:
        served = (await http.get(f"{hostile_inbox.gateway}/messages/{message['id']}/html")).text
    assert "data-blocked-src" not in served
    assert active_content(served, port_marker) == []
    assert served.count(port_marker) == 1  # the link
    assert re.search(r'<a href="[^"]*/remote/link"', served)


def original_remote_html(inbox: HostileInbox) -> str:
    mail = message_from_bytes(inbox.mails["remote"].raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    body = mail.get_body(("html",))
    assert body is not None
    return str(body.get_content())


async def show(page: Page, pages: LoopbackHttp, path: str, html: str) -> None:
    pages.pages[path] = html
    await page.goto(pages.url + path)


async def test_control_the_original_html_loads_remote_content(
    hostile_inbox: HostileInbox,
) -> None:
    """Unsanitised, the mail loads the listener under every host name, sandbox or not."""
    control = LoopbackHttp.start()
    try:
        raw = original_remote_html(hostile_inbox).replace(
            f":{hostile_inbox.listener.port}/", f":{control.port}/"
        )
        pages = hostile_inbox.pages
        async with launched_chromium() as browser:
            page = await browser.new_page()
            await show(page, pages, "/control/remote.html", raw)
            await page.wait_for_timeout(SETTLE_MS)
            alone = len(control.requests)
            pages.pages["/control/remote-frame.html"] = "<iframe sandbox></iframe>"
            await page.goto(f"{pages.url}/control/remote-frame.html")
            await page.eval_on_selector("iframe", "(f, html) => { f.srcdoc = html; }", raw)
            await page.wait_for_timeout(SETTLE_MS)
        hosts = {request.host.rsplit(":", 1)[0] for request in control.requests[:alone]}
        assert {"127.0.0.1", "localhost", "rebind.localhost"} <= hosts, hosts
        assert len(control.requests) > alone, "nothing loaded from the sandboxed frame"
    finally:
        control.stop()
