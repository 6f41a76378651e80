"""`postdesk rejected list|retry`: a mail the router refused (no tenant owns the address it
came to) is listed, and once fed in again for the right address, becomes a ticket through
the running parser and router."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from postdesk_cli.demo import address, seed_demo
from postdesk_contracts import EventType, new_envelope
from postdesk_contracts.events import Channel, MailReceived
from postdesk_ingest import db as ingest_db
from postdesk_parser.domain import parse_mail
from postdesk_parser.main import create_app as parser_app
from postdesk_parser.service import mail_parsed_of
from postdesk_parser.settings import ParserSettings
from postdesk_router.main import create_app as router_app
from postdesk_router.service import RouteStatus, route_in_transaction
from postdesk_router.settings import RouterSettings
from postdesk_runtime import make_blob_store, make_engine, make_sessions
from postdesk_schema import Message, Ticket
from postdesk_testing import eventually, run_postdesk
from sqlalchemy import select
from sqlmodel import col

pytestmark = pytest.mark.integration


async def postdesk(env: dict[str, str], *argv: str, status: int = 0) -> tuple[str, str]:
    ran = await run_postdesk(*argv, env=env)
    assert ran.status == status, ran.stderr
    return ran.stdout, ran.stderr


async def test_rejected_mail_is_listed_and_retried_into_a_ticket(
    private_database_url: str, private_amqp_url: str, tmp_path: Path
) -> None:
    blob_dir = tmp_path / "blobs"
    engine = make_engine(private_database_url, pool_size=2)
    sessions = make_sessions(engine)
    await seed_demo(sessions)
    router_settings = RouterSettings(
        amqp_url=private_amqp_url, database_url=private_database_url, blob_dir=blob_dir
    )
    blobs = make_blob_store(router_settings)
    message = EmailMessage()
    message["From"] = "Dana <dana@customer.example>"
    message["To"] = "support@nobody.example"
    message["Subject"] = "Where is my order?"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@customer.example>"
    message.set_content("Order 1234 has not arrived.")
    raw = message.as_bytes()
    received = MailReceived(
        raw_blob_ref=await blobs.put(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        channel=Channel.SMTP,
        envelope_recipients=["support@nobody.example"],
        received_at=datetime.now(UTC),
        source="smtp:192.0.2.7",
    )
    async with sessions() as session, session.begin():  # ingest's row of the first delivery
        await ingest_db.record_stored(
            session,
            dedupe_key=f"{received.sha256}:test",
            sha256=received.sha256,
            raw_blob_ref=received.raw_blob_ref,
            event_id=uuid.uuid4(),
            detail=received.source,
        )
    parsed = await mail_parsed_of(received, parse_mail(raw), blobs)
    outcome = await route_in_transaction(
        sessions, blobs, new_envelope(EventType.MAIL_PARSED, parsed)
    )
    assert outcome.status == RouteStatus.REJECTED
    env = {
        "AMQP_URL": private_amqp_url,
        "DATABASE_URL": private_database_url,
        "BLOB_DIR": str(blob_dir),
    }

    listing, _ = await postdesk(env, "rejected", "list", "--stage", "router")
    (record,) = [json.loads(line) for line in listing.splitlines()]
    assert record["message_id"] == parsed.message_id
    assert "support@nobody.example" in record["reason"]
    assert record["sha256"] == received.sha256
    assert (await postdesk(env, "rejected", "list", "--stage", "parser"))[0] == ""

    _, error = await postdesk(
        env, "rejected", "retry", str(uuid.uuid4()), "--rcpt", "x@y.example", status=2
    )
    assert "no rejection" in error

    parser = parser_app(
        ParserSettings(
            amqp_url=private_amqp_url, database_url=private_database_url, blob_dir=blob_dir
        )
    )
    router = router_app(router_settings)
    try:
        async with parser.start_lifespan_context(), router.start_lifespan_context():
            retried, _ = await postdesk(
                env, "rejected", "retry", record["id"], "--rcpt", address("cs")
            )
            assert json.loads(retried)["source"] == "smtp:192.0.2.7"
            assert json.loads(retried)["channel"] == "smtp"

            async def stored() -> Message | None:
                async with sessions() as session:
                    return await session.scalar(
                        select(Message).where(col(Message.message_id_header) == parsed.message_id)
                    )

            routed = await eventually(stored, within=30)
            async with sessions() as session:
                ticket = await session.get(Ticket, routed.ticket_id)
            assert ticket is not None
            assert ticket.subject == "Where is my order?"
            assert routed.text_body.startswith("Order 1234 has not arrived.")
    finally:
        await engine.dispose()
