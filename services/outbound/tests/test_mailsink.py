"""The development mail sink as `postdesk up` runs it: mail in over SMTP, a file and a page out."""

from __future__ import annotations

import asyncio
import io
import smtplib
import socket
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest
from postdesk_cli.supervisor import Supervisor

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  # loopback
        return response.status, response.headers["content-type"], response.read()


async def test_the_sink_keeps_each_mail_and_lists_it(tmp_path: Path) -> None:
    smtp_port, directory, log = free_port(), tmp_path / "sent", io.StringIO()
    sink = Supervisor(
        env={
            "MAILSINK_SMTP_PORT": str(smtp_port),
            "MAILSINK_DIR": str(directory),
            "LOG_FORMAT": "console",
        },
        ports={"mailsink": free_port()},
        sink=log,
    )
    service = sink.start("mailsink")
    try:
        await asyncio.to_thread(sink.wait_ready, 30)
        mail = EmailMessage()
        mail["From"] = "Support <cs@acme.example>"
        mail["To"] = "carol@customer.example"
        mail["Subject"] = "Re: Printer on fire [#7] <script>"
        mail.set_content("Have you tried water?")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.send_message(mail)
        [kept] = sorted(directory.glob("*.eml"))
        status, kind, page = await asyncio.to_thread(fetch, service.base_url + "/")
        raw = await asyncio.to_thread(fetch, f"{service.base_url}/mail/{kept.name}")
        with pytest.raises(urllib.error.HTTPError):
            await asyncio.to_thread(fetch, f"{service.base_url}/mail/..%2F..%2Fetc%2Fpasswd")
    finally:
        sink.stop_all()
    assert b"Have you tried water?" in kept.read_bytes()
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert b"Re: Printer on fire [#7] &lt;script&gt;" in page
    assert raw[2] == kept.read_bytes()
    assert "mail kept" in log.getvalue()
