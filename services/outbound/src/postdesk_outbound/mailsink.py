"""A local SMTP server that keeps what it receives: where a development stack sends mail.

`postdesk up` starts it (SMTP on 127.0.0.1:2525, a page on :8025) and the
demo tenant's SMTP settings point at it, so a new user sees every mail
postdesk sent without a real mail server: one `.eml` file per message in
MAILSINK_DIR (default var/sent-mail), a log line per message, and a page
listing them newest first with links to the raw files. It accepts every
sender and recipient, so it must never listen beyond loopback in
production; it refuses to start with ENVIRONMENT=production.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import time
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from postdesk_runtime import ServiceSettings, configure_logging, serve
from pydantic import Field

log = structlog.get_logger(__name__)

SAFE_NAME = re.compile(r"^[0-9]{13}-[0-9a-f]{8}\.eml$")
MAX_LISTED = 200


class MailsinkSettings(ServiceSettings):
    http_port: int = 8025
    mailsink_smtp_host: str = Field(
        default="127.0.0.1", description="listen address of the sink's SMTP server (loopback)"
    )
    mailsink_smtp_port: int = Field(default=2525, description="port of the sink's SMTP server")
    mailsink_dir: Path = Field(
        default=Path("var/sent-mail"), description="directory of the kept .eml files"
    )


class Keeper:
    """aiosmtpd handler: every accepted message becomes one file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802  # aiosmtpd's hook name
        content = envelope.original_content or b""
        digest = hashlib.sha256(content).hexdigest()[:8]
        name = f"{time.time_ns() // 1_000_000:013d}-{digest}.eml"
        await asyncio.to_thread((self.directory / name).write_bytes, content)
        headers = BytesHeaderParser(policy=default).parsebytes(content)
        log.info(
            "mail kept",
            file=name,
            mail_from=envelope.mail_from,
            rcpt_to=list(envelope.rcpt_tos),
            subject=str(headers.get("subject", "")),
        )
        return "250 2.0.0 kept by the postdesk mail sink"

    def listing(self) -> list[dict[str, str]]:
        files = sorted(self.directory.glob("*.eml"), reverse=True)[:MAX_LISTED]
        rows = []
        for path in files:
            with path.open("rb") as handle:
                headers = BytesHeaderParser(policy=default).parse(handle)
            rows.append(
                {
                    "file": path.name,
                    "date": str(headers.get("date", "")),
                    "from": str(headers.get("from", "")),
                    "to": str(headers.get("to", "")),
                    "subject": str(headers.get("subject", "")),
                }
            )
        return rows


def _page(rows: list[dict[str, str]]) -> bytes:
    cells = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(row[k])}</td>" for k in ("date", "from", "to", "subject"))
        + f'<td><a href="/mail/{html.escape(row["file"])}">raw</a></td></tr>'
        for row in rows
    )
    return (
        "<!doctype html><meta charset=utf-8><title>postdesk mail sink</title>"
        "<h1>Mail postdesk sent</h1><table border=1 cellpadding=4>"
        "<tr><th>Date<th>From<th>To<th>Subject<th></tr>" + cells + "</table>"
    ).encode()


def asgi_app(keeper: Keeper, controller: Controller) -> Any:
    """/readyz, / (the listing) and /mail/<file> (one raw message)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    controller.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    controller.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        status, body, kind = 404, b"not found", "text/plain"
        if path == "/readyz" or path == "/healthz":
            status, body, kind = 200, b'{"status": "ok"}', "application/json"
        elif path == "/":
            rows = await asyncio.to_thread(keeper.listing)
            status, body, kind = 200, _page(rows), "text/html; charset=utf-8"
        elif path.startswith("/mail/") and SAFE_NAME.match(name := path.removeprefix("/mail/")):
            file = keeper.directory / name
            if file.exists():
                status, body, kind = 200, await asyncio.to_thread(file.read_bytes), "message/rfc822"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", kind.encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def run() -> None:
    settings = MailsinkSettings()
    if settings.environment == "production":
        raise SystemExit("the mail sink is for development; refusing ENVIRONMENT=production")
    configure_logging("mailsink", settings.log_format, settings.log_level)
    keeper = Keeper(settings.mailsink_dir)
    controller = Controller(
        keeper, hostname=settings.mailsink_smtp_host, port=settings.mailsink_smtp_port
    )
    serve(asgi_app(keeper, controller), settings)
