"""The mail pipeline as real processes for the protocol and bomb attacks, and what the tests
read back.

`running_pipeline` is `tests.faults.stack.FaultStack` (ingest, parser, router, notifier,
outbound and the mail sink as processes, the demo tenant answering every mail with an
auto-reply) on a database and virtual host of its own. The suite's conftest starts it once
(`pipeline`, with `PIPELINE_ENV`) for every module that attacks it: each test looks only at
its own mails, found by a marker in the subject or Message-ID.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import sqlalchemy as sa
from postdesk_runtime.db import make_engine
from postdesk_testing import IsolatedAmqp, IsolatedDatabase

from tests.faults.stack import (
    MAILSINK,
    PIPELINE,
    SERVICE_ENV,
    FaultStack,
    make_supervisor,
    prepare_tenant,
)

DECODED_LIMIT = 2 * 1024 * 1024  # small, so a decoded-size bomb stays small
PIPELINE_ENV = {"PARSE_MAX_DECODED_BYTES": str(DECODED_LIMIT)}


@asynccontextmanager
async def running_pipeline(blob_root: Path, **service_env: str) -> AsyncIterator[FaultStack]:
    """The whole pipeline started and ready; stopped, its database and vhost dropped, after.
    `service_env` is added to every service's environment (e.g. parse limits)."""
    database, vhost = IsolatedDatabase(), IsolatedAmqp()
    database_url, amqp_url = await database.create(), vhost.create()
    engine = make_engine(database_url, pool_size=2)
    log = io.StringIO()
    blob_dir = blob_root / "blobs"
    supervisor, smtp_port = make_supervisor(database_url, amqp_url, blob_dir, log)
    try:
        tenant_id = await prepare_tenant(engine, smtp_port)
        for name in (*PIPELINE, MAILSINK):
            supervisor.start(name, **{**SERVICE_ENV.get(name, {}), **service_env})
        await asyncio.to_thread(supervisor.wait_ready, 90)
        yield FaultStack(database_url, amqp_url, blob_dir, engine, tenant_id, supervisor, log)
    finally:
        await asyncio.to_thread(supervisor.stop_all, 15)
        await engine.dispose()
        vhost.drop()
        await database.drop()


@dataclass(frozen=True)
class StoredMessage:
    """A message as the router stored it (the columns the attacks look at)."""

    ticket_id: str
    ticket_number: int
    subject: str
    from_email: str
    direction: str
    match_rule: str


async def messages_with(
    stack: FaultStack, marker: str, direction: str = "inbound"
) -> list[StoredMessage]:
    """Messages (by default inbound ones: not our answers quoting the subject) whose subject
    or Message-ID carries `marker`, oldest first."""
    async with stack.engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT m.ticket_id, t.number, m.subject, m.from_email, m.direction, m.match_rule "
                "FROM messages m JOIN tickets t ON t.id = m.ticket_id "
                "WHERE m.direction = :direction "
                "AND (strpos(m.subject, :marker) > 0 OR strpos(m.message_id_header, :marker) > 0) "
                "ORDER BY m.created_at"
            ),
            {"marker": marker, "direction": direction},
        )
        return [StoredMessage(str(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def arrived(stack: FaultStack, marker: str) -> Callable[[], Awaitable[list[StoredMessage] | None]]:
    """A probe for `postdesk_testing.eventually`: the inbound messages with `marker`, once
    there are any."""

    async def probe() -> list[StoredMessage] | None:
        return await messages_with(stack, marker) or None

    return probe


async def processing_rows(stack: FaultStack, sha256: str) -> dict[str, tuple[str, str]]:
    """(status, detail) of each stage's processing-log row for the raw mail `sha256`."""
    async with stack.engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT stage, status, coalesce(detail, '') FROM email_processing_logs "
                "WHERE sha256 = :sha"
            ),
            {"sha": sha256},
        )
        return {r[0]: (r[1], r[2]) for r in rows}


def sent_mails(stack: FaultStack) -> list[tuple[bytes, EmailMessage]]:
    """Every mail the SMTP sink was sent: the raw bytes and the parsed message."""
    parser = BytesParser(policy=policy.default)
    if not stack.sent_mail.exists():
        return []
    found = []
    for path in sorted(stack.sent_mail.glob("*.eml")):
        raw = path.read_bytes()
        message = parser.parsebytes(raw)
        assert isinstance(message, EmailMessage)
        found.append((raw, message))
    return found
