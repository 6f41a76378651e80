"""`postdesk reparse` and `postdesk thread show|rebuild` on mail stored by the real parser
and router code, then damaged as an older release would have left it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio
from postdesk_cli.demo import address, seed_demo
from postdesk_cli.settings import CliSettings
from postdesk_contracts import EventType, new_envelope
from postdesk_contracts.events import Channel, MailReceived
from postdesk_parser.domain import parse_mail
from postdesk_parser.service import mail_parsed_of
from postdesk_router.service import RouteOutcome, route_in_transaction
from postdesk_runtime import BlobStore, Sessions, make_blob_store, make_engine, make_sessions
from postdesk_schema import (
    Attachment,
    EmailAccount,
    Message,
    Ticket,
    TicketHistory,
    TicketStatus,
)
from postdesk_schema.infra import OutboxEvent
from sqlalchemy import delete, select, update
from sqlmodel import col

pytestmark = pytest.mark.integration

CUSTOMER = "carol@customer.example"


class Desk:
    """The demo tenant on a private database, a blob store, and the real `postdesk` command."""

    def __init__(self, database_url: str, blob_dir: Path, sessions: Sessions) -> None:
        self.database_url = database_url
        self.blob_dir = blob_dir
        self.sessions = sessions
        self.blobs: BlobStore = make_blob_store(CliSettings(blob_dir=blob_dir))
        self.last_stderr = ""

    async def receive(self, raw: bytes) -> RouteOutcome:
        """Store `raw` as the pipeline does: blob, the parser's use case, the router's."""
        received = MailReceived(
            raw_blob_ref=await self.blobs.put(raw),
            sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            channel=Channel.SMTP,
            envelope_recipients=[address("cs")],
            received_at=datetime.now(UTC),
        )
        parsed = await mail_parsed_of(received, parse_mail(raw), self.blobs)
        return await route_in_transaction(
            self.sessions, self.blobs, new_envelope(EventType.MAIL_PARSED, parsed)
        )

    def postdesk(self, *argv: str, status: int = 0) -> str:
        env = os.environ | {"DATABASE_URL": self.database_url, "BLOB_DIR": str(self.blob_dir)}
        done = subprocess.run(
            [str(Path(sys.executable).parent / "postdesk"), *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == status, done.stderr
        self.last_stderr = done.stderr
        return done.stdout

    async def message(self, message_id: uuid.UUID) -> Message:
        async with self.sessions() as session:
            found = await session.get(Message, message_id)
            assert found is not None
            return found

    async def attachments(self, message_id: uuid.UUID) -> dict[str, Attachment]:
        async with self.sessions() as session:
            found = await session.scalars(
                select(Attachment).where(col(Attachment.message_id) == message_id)
            )
            return {a.filename: a for a in found}

    async def ticket(self, ticket_id: uuid.UUID) -> Ticket:
        async with self.sessions() as session:
            found = await session.get(Ticket, ticket_id)
            assert found is not None
            return found


@pytest_asyncio.fixture(loop_scope="session")
async def desk(private_database_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    engine = make_engine(private_database_url, pool_size=2)
    sessions = make_sessions(engine)
    await seed_demo(sessions)
    yield Desk(private_database_url, tmp_path / "blobs", sessions)
    await engine.dispose()


def mail(
    message_id: str,
    *,
    subject: str = "Printer on fire",
    in_reply_to: str | None = None,
    text: str = "Grüße aus Köln, the printer is on fire.",
    files: tuple[str, ...] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Carol Customer <{CUSTOMER}>"
    message["To"] = address("cs")
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    message["Date"] = "Thu, 26 Nov 2026 08:00:00 +0000"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    message.set_content(text, charset="iso-8859-1")
    message.add_alternative(f"<p>{text}</p>", subtype="html")
    for name in files:
        message.add_attachment(
            f"contents of {name}".encode(), maintype="application", subtype="pdf", filename=name
        )
    return message.as_bytes()


async def test_reparse_restores_what_an_older_parser_lost(desk: Desk) -> None:
    """Bodies, threading headers, attachment rows damaged in the database come back from the
    raw mail; an attachment that stays keeps its id; a dry run changes nothing; a second run
    finds nothing to change; an outbound message is refused with a reason."""
    parent = await desk.receive(mail("parent@customer.example"))
    outcome = await desk.receive(
        mail(
            "reply@customer.example",
            in_reply_to="parent@customer.example",
            files=("invoice.pdf", "receipt.pdf"),
        )
    )
    assert outcome.message_id is not None
    assert outcome.ticket_id is not None
    assert outcome.ticket_id == parent.ticket_id
    reply = outcome.message_id
    good = await desk.message(reply)
    assert "Grüße aus Köln" in good.text_body
    kept = (await desk.attachments(reply))["invoice.pdf"]
    async with desk.sessions() as session, session.begin():
        await session.execute(
            update(Message)
            .where(col(Message.id) == reply)
            .values(text_body="Gr??e aus K?ln", html_body=None, in_reply_to=[], text_preview="")
        )
        await session.execute(
            delete(Attachment).where(
                col(Attachment.message_id) == reply, col(Attachment.filename) == "receipt.pdf"
            )
        )
        await session.execute(
            update(Attachment)
            .where(col(Attachment.id) == kept.id)
            .values(content_type="application/octet-stream")
        )

    dry = json.loads(desk.postdesk("reparse", str(reply), "--dry-run"))
    assert set(dry["changed"]) == {
        "text_body",
        "html_body",
        "in_reply_to",
        "text_preview",
        "attachments",
    }
    assert (await desk.message(reply)).text_body == "Gr??e aus K?ln"

    number = (await desk.ticket(reply_ticket := outcome.ticket_id)).number
    lines = desk.postdesk("reparse", "--ticket", f"acme:{number}").splitlines()
    records = {json.loads(line)["message"]: json.loads(line) for line in lines}
    assert records[str(parent.message_id)]["changed"] == []
    assert records[str(reply)]["attachments"] == [1, 2]
    repaired = await desk.message(reply)
    for field in ("text_body", "html_body", "in_reply_to", "text_preview"):
        assert getattr(repaired, field) == getattr(good, field), field
    attachments = await desk.attachments(reply)
    assert set(attachments) == {"invoice.pdf", "receipt.pdf"}
    assert attachments["invoice.pdf"].id == kept.id
    assert attachments["invoice.pdf"].content_type == "application/pdf"
    assert await desk.blobs.get(attachments["receipt.pdf"].blob_ref) == b"contents of receipt.pdf"

    again = json.loads(desk.postdesk("reparse", str(reply)))
    assert again["changed"] == []
    assert (await desk.ticket(reply_ticket)).message_count == 2

    async with desk.sessions() as session, session.begin():
        await session.execute(
            update(Message).where(col(Message.id) == reply).values(direction="outbound")
        )
    refused = json.loads(desk.postdesk("reparse", str(reply), status=1))
    assert refused["error"] == "a outbound message has no received mail to parse"


async def test_rebuild_joins_a_reply_whose_threading_headers_were_lost(desk: Desk) -> None:
    """A reply stored with its In-Reply-To lost opened a ticket of its own. Once re-parsed,
    `thread rebuild` merges it into its parent's ticket (announced through the router's
    outbox, recorded in the history), counts the messages again, and leaves a follow-up
    ticket of the closed thread apart."""
    parent = await desk.receive(mail("root@customer.example", subject="Broken hinge"))
    assert parent.ticket_id is not None
    lost = await desk.receive(
        mail("late@customer.example", subject="Re: Broken hinge", in_reply_to="root@x.example")
    )
    assert lost.ticket_id is not None
    assert lost.ticket_id != parent.ticket_id
    assert lost.message_id is not None
    async with desk.sessions() as session, session.begin():
        # as the raw mail really says: the old parser lost its In-Reply-To
        await session.execute(
            update(Message)
            .where(col(Message.id) == lost.message_id)
            .values(in_reply_to=["root@customer.example"])
        )
        await session.execute(
            update(Ticket).where(col(Ticket.id) == parent.ticket_id).values(message_count=7)
        )
    shown = desk.postdesk("thread", "show", str(parent.ticket_id))
    assert f"replies to this thread on ticket {lost.ticket_id}" in shown
    assert "7 messages counted" in shown

    dry = desk.postdesk("thread", "rebuild", str(parent.ticket_id), "--dry-run")
    assert "(dry run, rolled back)" in dry
    assert (await desk.ticket(parent.ticket_id)).message_count == 7

    output = desk.postdesk("thread", "rebuild", str(parent.ticket_id))
    assert f"merged in #{(await desk.ticket(lost.ticket_id)).number} {lost.ticket_id}" in output
    assert "messages counted 7 -> 2" in output
    merged = await desk.ticket(lost.ticket_id)
    assert merged.merged_into_id == parent.ticket_id
    assert merged.status == TicketStatus.CLOSED
    assert (await desk.message(lost.message_id)).ticket_id == parent.ticket_id
    async with desk.sessions() as session:
        history = await session.scalar(
            select(TicketHistory).where(
                col(TicketHistory.ticket_id) == parent.ticket_id,
                col(TicketHistory.kind) == "thread_rebuilt",
            )
        )
        assert history is not None
        announced = [
            json.loads(row.body)
            for row in await session.scalars(
                select(OutboxEvent).where(
                    col(OutboxEvent.service) == "router",
                    col(OutboxEvent.routing_key) == "ticket.updated",
                )
            )
        ]
    assert any(
        e["payload"]["ticket_id"] == str(lost.ticket_id)
        and e["payload"]["rule"] == "thread-rebuild"
        for e in announced
    )
    tree = desk.postdesk("thread", "show", f"acme:{(await desk.ticket(parent.ticket_id)).number}")
    lines = [line for line in tree.splitlines() if "@customer.example>" in line]
    assert "<root@customer.example>" in lines[0]
    assert lines[1].startswith("    ")
    assert "<late@customer.example>" in lines[1]

    # a follow-up: the account opens one for mail to a closed ticket, linked to it on purpose
    async with desk.sessions() as session, session.begin():
        await session.execute(
            update(Ticket)
            .where(col(Ticket.id) == parent.ticket_id)
            .values(status=TicketStatus.CLOSED)
        )
        await session.execute(
            update(EmailAccount)
            .where(col(EmailAccount.address) == address("cs"))
            .values(reopen_policy="follow_up")
        )
    follow_up = await desk.receive(
        mail(
            "again@customer.example",
            subject="Re: Broken hinge",
            in_reply_to="late@customer.example",
        )
    )
    assert follow_up.ticket_id is not None
    assert follow_up.ticket_id != parent.ticket_id
    assert (await desk.ticket(follow_up.ticket_id)).linked_ticket_id == parent.ticket_id
    assert "merged in nothing" in desk.postdesk("thread", "rebuild", str(parent.ticket_id))
    assert (await desk.ticket(follow_up.ticket_id)).merged_into_id is None


async def test_unknown_ticket_is_a_clear_error(desk: Desk) -> None:
    assert desk.postdesk("thread", "rebuild", "acme:999999", status=2) == ""
    assert desk.last_stderr.strip() == "error: no ticket acme:999999"
    desk.postdesk("thread", "show", "not-a-ticket", status=2)
    assert "'not-a-ticket' is neither a ticket id nor TENANT-SLUG:NUMBER" in desk.last_stderr
