"""A headless Chromium (the machine's, from apt; scripts/setup installs it) driven by
playwright, and the frontend page that shows a ticket the documented way.

`TICKET_PAGE` is that frontend, served from a loopback origin of its own: it reads
the ticket as JSON with the bearer token, writes subject, names and file names as
text (`textContent`), and puts each message's HTML from `GET /messages/{id}/html`
into an `<iframe sandbox srcdoc>` with no allowance at all (docs/security.md,
"Showing mail in a browser").

`Tripwires` collects what running injected script leaves: console lines with
`pwned`, dialogs (each dismissed) and any request to the listener.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, async_playwright

from tests.security.hostile_stack import LoopbackHttp, Request

SETTLE_MS = 1500  # after load: autofocus, animations, lazy images and timers get their turn

TICKET_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>ticket</title></head>
<body><main id="ticket"></main>
<script>
async function show() {
  const given = new URLSearchParams(location.hash.slice(1));
  const api = given.get("api");
  const headers = {Authorization: "Bearer " + given.get("token")};
  const root = document.getElementById("ticket");
  const text = (value, tag = "p") => {
    const element = document.createElement(tag);
    element.textContent = value ?? "";
    root.append(element);
  };
  const ticket = await (await fetch(`${api}/tickets/${given.get("ticket")}`, {headers})).json();
  text(ticket.subject, "h1");
  text(ticket.customer_name);
  for (const message of ticket.messages) {
    text(message.from?.name);
    text(message.subject);
    for (const attachment of message.attachments) text(attachment.filename, "li");
    if (message.html_body) {
      const html = await fetch(`${api}/messages/${message.id}/html`, {headers});
      const frame = document.createElement("iframe");
      frame.setAttribute("sandbox", "");
      frame.srcdoc = await html.text();
      root.append(frame);
    } else {
      text(message.text_body, "pre");
    }
  }
  document.body.dataset.shown = "yes";
}
show();
</script></body></html>
"""


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "no chromium on PATH: scripts/setup installs it (apt-get install chromium)"
    return found


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Tripwires:
    """Watches any number of pages; `tripped` also counts every request the listener got
    since the tripwires were made."""

    listener: LoopbackHttp
    console: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    seen_before: int = -1

    def __post_init__(self) -> None:
        self.seen_before = len(self.listener.requests)

    def watch(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("dialog", self._dialog)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if "pwned" in message.text:
            self.console.append(message.text)

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    @property
    def requests(self) -> list[Request]:
        return self.listener.requests[self.seen_before :]

    def tripped(self) -> dict[str, list[str]]:
        """What ran, by kind; empty when nothing did."""
        found = {
            "console": self.console,
            "dialogs": self.dialogs,
            "requests": [f"{r.host}{r.path}" for r in self.requests],
        }
        return {kind: items for kind, items in found.items() if items}
