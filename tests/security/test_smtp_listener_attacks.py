"""SMTP protocol attacks on ingest's own SMTP and LMTP listeners (`postdesk_ingest.smtp`),
in-process on a database and virtual host of this module's own, spoken to over a raw socket.

| attack | pass |
| --- | --- |
| SMTP smuggling, on the SMTP and the LMTP listener: DATA whose body ends a line with a non-standard end-of-data (`<LF>.<LF>`, `<CR>.<LF>`, `<LF>.<CR><LF>`, `<CR><LF>.<LF>`, `<CR><LF>.<CR>`, `<LF>.<CR>`), followed by `MAIL FROM` a spoofed sender, `RCPT`, `DATA` and a second message, all before the real `<CR><LF>.<CR><LF>` | one DATA reply, exactly one message stored, holding the whole body (the smuggled commands and message among it); the spoofed sender never reaches the envelope |
| STARTTLS command injection: `STARTTLS` and `MAIL FROM` pipelined in one packet before the handshake (CVE-2024-34083, fixed in aiosmtpd 1.4.6) | after the handshake `RCPT` is answered 503 (no sender): the injected `MAIL FROM` was thrown away, not run inside the TLS session |
| STARTTLS on a listener with no certificate | not offered in the EHLO answer, and the command refused with 454 |
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from postdesk_cli.demo import address, seed_demo
from postdesk_ingest.main import create_app
from postdesk_ingest.settings import IngestSettings
from postdesk_runtime import make_engine, make_sessions
from postdesk_runtime.blobfactory import make_blob_store
from postdesk_schema.logs import EmailProcessingLog
from postdesk_testing import IsolatedAmqp, IsolatedDatabase
from postdesk_testing.smtp import make_certificate
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

pytestmark = pytest.mark.integration

MAILBOX = address("cs")
SPOOFED_SENDER = "ceo@bank.example"
# Every non-standard end-of-data a receiving MTA has been seen to accept (SEC Consult's SMTP
# smuggling research): each must stay body text, the only end being <CR><LF>.<CR><LF>.
SMUGGLING_ENDINGS = {
    "LF.LF": b"\n.\n",
    "CR.LF": b"\r.\n",
    "LF.CRLF": b"\n.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CRLF.CR": b"\r\n.\r",
    "LF.CR": b"\n.\r",
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def infrastructure() -> AsyncIterator[tuple[str, str, AsyncEngine]]:
    """A database (with the demo tenant) and a virtual host of this module's own, so the
    listener's rows are the only ones counted."""
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url, amqp_url = await database.create(), vhost.create()
    engine = make_engine(database_url, pool_size=2)
    await seed_demo(make_sessions(engine))
    try:
        yield database_url, amqp_url, engine
    finally:
        await engine.dispose()
        vhost.drop()
        await database.drop()


def listener_settings(
    database_url: str, amqp_url: str, blob_dir: Path, **smtp: Any
) -> IngestSettings:
    return IngestSettings(
        database_url=database_url,
        amqp_url=amqp_url,
        blob_dir=blob_dir,
        webhook_secret="smtp-attacks-secret",  # a loopback test listener
        db_pool_size=2,
        smtp_enabled=True,
        smtp_port=0,
        lmtp_enabled=True,
        lmtp_port=0,
        rate_per_source="off",
        rate_per_tenant="off",
        **smtp,
    )


class Dialogue:
    """One SMTP client connection over asyncio streams; replies read whole (multi-line)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Dialogue:
        dialogue = cls(*await asyncio.open_connection("127.0.0.1", port))
        await dialogue.reply()  # the greeting
        return dialogue

    async def reply(self) -> list[str]:
        lines: list[str] = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode().rstrip("\r\n")
            assert line, f"connection closed after {lines}"
            lines.append(line)
            if line[3:4] != "-":
                return lines

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self, line: str) -> list[str]:
        await self.send(line.encode() + b"\r\n")
        return await self.reply()

    async def replies_until_closed(self) -> list[str]:
        """Every reply line left until the server closes the connection."""
        data = await asyncio.wait_for(self.reader.read(), 10)
        return data.decode().splitlines()

    async def close(self) -> None:
        self.writer.close()
        await asyncio.gather(self.writer.wait_closed(), return_exceptions=True)


async def ingest_rows(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(col(EmailProcessingLog.status), col(EmailProcessingLog.raw_blob_ref)).where(
                col(EmailProcessingLog.stage) == "ingest"
            )
        )
        return [(row.status, row.raw_blob_ref) for row in rows]


def smuggling_body(ending: bytes, marker: str) -> bytes:
    smuggled = (
        f"MAIL FROM:<{SPOOFED_SENDER}>\r\nRCPT TO:<{MAILBOX}>\r\nDATA\r\n"
        f"From: <{SPOOFED_SENDER}>\r\nTo: <{MAILBOX}>\r\nSubject: smuggled {marker}\r\n\r\n"
        "Please wire the money today.\r\n"
    ).encode()
    return (
        (
            f"From: <alice@customer.example>\r\nTo: <{MAILBOX}>\r\nSubject: cover {marker}\r\n"
            f"Message-ID: <{marker}@customer.example>\r\n\r\nHello"
        ).encode()
        + ending
        + smuggled
    )


@pytest.mark.parametrize("protocol", ["smtp", "lmtp"])
@pytest.mark.parametrize("ending", SMUGGLING_ENDINGS.values(), ids=SMUGGLING_ENDINGS.keys())
async def test_smuggled_second_message_stays_body_of_the_first(
    infrastructure: tuple[str, str, AsyncEngine], tmp_path: Path, ending: bytes, protocol: str
) -> None:
    """A non-standard end-of-data does not end DATA, on the SMTP listener nor on the LMTP
    one: one message, the smuggled one inside it."""
    database_url, amqp_url, engine = infrastructure
    before = await ingest_rows(engine)
    marker = uuid.uuid4().hex
    settings = listener_settings(database_url, amqp_url, tmp_path)
    app = create_app(settings)
    async with app.lifespan():
        dialogue = await Dialogue.open(app.state.listeners.port(protocol))
        try:
            await dialogue.command(f"{'LHLO' if protocol == 'lmtp' else 'EHLO'} attacker.example")
            assert (await dialogue.command("MAIL FROM:<alice@customer.example>"))[0][:3] == "250"
            assert (await dialogue.command(f"RCPT TO:<{MAILBOX}>"))[0][:3] == "250"
            assert (await dialogue.command("DATA"))[0][:3] == "354"
            # all in one write, as a pipelining attacker sends it
            await dialogue.send(smuggling_body(ending, marker) + b".\r\nQUIT\r\n")
            replies = await dialogue.replies_until_closed()
        finally:
            await dialogue.close()
    stored = [row for row in await ingest_rows(engine) if row not in before]
    assert [line[:3] for line in replies] == ["250", "221"], replies
    assert [status for status, _ in stored] == ["published"]
    raw = await make_blob_store(settings).get(stored[0][1])
    assert f"Subject: smuggled {marker}".encode() in raw
    assert raw.endswith(b"Please wire the money today.\r\n")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    files = make_certificate(tmp_path_factory.mktemp("smtp-tls"))
    return files.cert_file, files.key_file


async def test_command_pipelined_after_starttls_is_discarded(
    infrastructure: tuple[str, str, AsyncEngine],
    tmp_path: Path,
    certificate: tuple[Path, Path],
) -> None:
    """MAIL FROM sent in the STARTTLS packet is not run inside the TLS session."""
    database_url, amqp_url, _ = infrastructure
    cert, key = certificate
    app = create_app(
        listener_settings(
            database_url, amqp_url, tmp_path, smtp_tls_cert_file=cert, smtp_tls_key_file=key
        )
    )
    async with app.lifespan():
        dialogue = await Dialogue.open(app.state.listeners.port("smtp"))
        try:
            features = await dialogue.command("EHLO attacker.example")
            await dialogue.send(f"STARTTLS\r\nMAIL FROM:<{SPOOFED_SENDER}>\r\n".encode())
            ready = await dialogue.reply()
            client = ssl.create_default_context()
            client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
            await dialogue.writer.start_tls(client)
            after_handshake = await dialogue.command("EHLO attacker.example")
            rcpt = await dialogue.command(f"RCPT TO:<{MAILBOX}>")
        finally:
            await dialogue.close()
    assert "250-STARTTLS" in features
    assert ready[0][:3] == "220"
    assert after_handshake[0][:3] == "250", after_handshake  # not a reply to the injected MAIL
    assert rcpt[0][:3] == "503", rcpt


async def test_listener_without_certificate_offers_no_starttls(
    infrastructure: tuple[str, str, AsyncEngine], tmp_path: Path
) -> None:
    """No certificate configured: STARTTLS is neither offered nor accepted."""
    database_url, amqp_url, _ = infrastructure
    app = create_app(listener_settings(database_url, amqp_url, tmp_path))
    async with app.lifespan():
        dialogue = await Dialogue.open(app.state.listeners.port("smtp"))
        try:
            features = await dialogue.command("EHLO attacker.example")
            starttls = await dialogue.command("STARTTLS")
        finally:
            await dialogue.close()
    assert not any("STARTTLS" in line for line in features)
    assert starttls[0][:3] == "454"
