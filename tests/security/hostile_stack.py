"""Hostile mail through the real pipeline, for the content and remote-content attacks.

`delivered_hostile_mail` runs every service as a process (ingest, parser,
router, notifier, outbound and gateway) with
`tests.security.processes.running_services`, with the demo tenant. It
starts `LoopbackHttp` listeners first: `listener`, which the mails' payloads
aim their beacons and remote content at and which nothing may ever request,
and `pages`, the origin of the test's frontend (allowed by the gateway's
CORS). It posts the mails of `hostile_mail` to ingest's signed raw-mail
webhook and waits until the gateway shows each as a ticket.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from postdesk_cli.demo import DEMO_PASSWORD, address
from postdesk_cli.services import SERVICES
from postdesk_ingest.domain import signature_headers
from postdesk_runtime.db import make_sessions
from postdesk_testing import eventually
from postdesk_testing.gateway_login import bearer, session_of

from tests.e2e.conftest import send_through_sink
from tests.security.hostile_mail import HostileMail, hostile_mails
from tests.security.processes import running_services

WEBHOOK_SECRET = "hostile-mail-webhook-secret"  # loopback-only test stack
ADMIN = address("admin")  # sees every ticket of the tenant
CLOSED_PORT = 9  # discard: nothing listens on it on a test machine


@dataclass(frozen=True)
class Request:
    method: str
    host: str
    path: str
    user_agent: str


@dataclass
class LoopbackHttp:
    """An HTTP server on 127.0.0.1 in a thread that records every request it gets and
    answers with `pages[path]` (as HTML) or an empty 200."""

    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls) -> LoopbackHttp:
        owner: list[LoopbackHttp] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                me = owner[0]
                me.requests.append(
                    Request(
                        self.command,
                        self.headers.get("Host", ""),
                        self.path,
                        self.headers.get("User-Agent", ""),
                    )
                )
                page = me.pages.get(self.path.split("?")[0], "")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page.encode())))
                self.end_headers()
                self.wfile.write(page.encode())

            do_POST = do_HEAD = do_GET  # noqa: N815  # the names http.server dispatches to

            def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        owner.append(cls(server))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return owner[0]

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class HostileInbox:
    gateway: str
    token: str
    listener: LoopbackHttp
    pages: LoopbackHttp
    mails: dict[str, HostileMail]
    tickets: dict[str, dict[str, Any]]  # by mail key: the gateway's ticket detail
    log: io.StringIO

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)

    def messages(self, key: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.tickets[key]["messages"]
        return found


async def _post(http: httpx.AsyncClient, ingest: str, mail: HostileMail) -> None:
    response = await http.post(
        f"{ingest}/webhooks/raw",
        content=mail.raw,
        params={"rcpt": address("cs")},
        headers={"Content-Type": "message/rfc822", **signature_headers(WEBHOOK_SECRET, mail.raw)},
    )
    assert response.status_code == 202, (mail.key, response.status_code, response.text)


async def _tickets_by_sender(
    http: httpx.AsyncClient, senders: dict[str, str]
) -> dict[str, dict[str, Any]] | None:
    """Each mail's ticket detail once every mail has one, else None."""
    listed = await http.get("/tickets", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    ids = {item["customer_email"]: item["id"] for item in listed.json()["items"]}
    if not set(senders.values()) <= ids.keys():
        return None
    details = {}
    for key, sender in senders.items():
        detail = await http.get(f"/tickets/{ids[sender]}")
        assert detail.status_code == 200, detail.text
        details[key] = detail.json()
    return details


@asynccontextmanager
async def delivered_hostile_mail(directory: Path) -> AsyncIterator[HostileInbox]:
    """Every service running, every hostile mail a ticket; all torn down on exit."""
    listener, pages = LoopbackHttp.start(), LoopbackHttp.start()
    try:
        async with running_services(
            SERVICES,
            directory,
            INGEST_WEBHOOK_SECRET=WEBHOOK_SECRET,
            CORS_ORIGINS=json.dumps([pages.url]),
        ) as services:
            # mail to agents meets a closed port and waits for a retry: nobody else's sink
            await send_through_sink(make_sessions(services.engine), services.demo, CLOSED_PORT)
            mails = hostile_mails(listener.url, listener.port)
            async with httpx.AsyncClient(base_url=services.url("gateway"), timeout=30) as http:
                for mail in mails:
                    await _post(http, services.url("ingest"), mail)
                token = (await session_of(http, ADMIN, DEMO_PASSWORD))["access_token"]
                http.headers.update(bearer(token))
                senders = {mail.key: mail.sender for mail in mails}
                try:
                    tickets = await eventually(
                        lambda: _tickets_by_sender(http, senders), within=90, interval=0.5
                    )
                except AssertionError as late:
                    raise AssertionError(f"{late}\n{services.log.getvalue()[-20000:]}") from late
            yield HostileInbox(
                services.url("gateway"),
                token,
                listener,
                pages,
                {m.key: m for m in mails},
                tickets,
                services.log,
            )
    finally:
        listener.stop()
        pages.stop()
