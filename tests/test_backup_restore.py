"""Backup and restore exactly as docs/operations.md says, on the real servers.

A private database gets the demo tenant and one mail with an attachment
through the real pipeline (ingest's accept, the parser, the router, over a
private RabbitMQ virtual host, blobs encrypted under a keyring of the test's
own). Then the runbook: `pg_dump --format=custom` of the database, the blob
directory archived with `tar` after the dump, `pg_restore --no-owner
--exit-on-error` into a second, empty database and the blobs unpacked into a
second directory. The restored database has the same rows in every table,
Alembic finds it at the same revision, and the restored message's raw mail
and attachment decrypt from the restored blobs with the keyring, and with no
other key.
"""

from __future__ import annotations

import asyncio
import glob
import shutil
import subprocess
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from faststream.rabbit import RabbitBroker
from opentelemetry import trace
from postdesk_cli.demo import address, seed_demo
from postdesk_contracts import Envelope, EventType, MailParsed, MailReceived
from postdesk_contracts.topology import queue_for
from postdesk_ingest.service import Ports as IngestPorts
from postdesk_ingest.service import accept_raw_mail
from postdesk_parser.service import Ports as ParserPorts
from postdesk_parser.service import handle_mail_received
from postdesk_router.service import RouteStatus, route_in_transaction
from postdesk_runtime import (
    EncryptedBlobStore,
    LocalBlobStore,
    ServiceSettings,
    ThreadTokens,
    make_blob_store,
    make_engine,
    make_sessions,
)
from postdesk_runtime.blobstore import BlobIntegrityError, BlobStore
from postdesk_runtime.broker import EventPublisher, declare_topology, make_broker, rabbit_queue
from postdesk_runtime.keyring import Keyring
from postdesk_schema import Attachment, Message
from postdesk_schema.migrate import migrate
from postdesk_testing import IsolatedDatabase
from pydantic import SecretStr
from sqlalchemy import select
from sqlmodel import col

pytestmark = pytest.mark.integration

ATTACHMENT = b"%PDF-1.4\n% an invoice the customer attached\n%%EOF\n"


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore from the PATH, else from the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(f"{name} is needed (PostgreSQL client tools) and was not found")
    return found


def run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{command[0]} failed: {done.stderr}"


def customer_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Carol Customer <carol@customer.example>"
    message["To"] = address("cs")
    message["Subject"] = "Invoice 4711 is wrong"
    message["Message-ID"] = "<backup-restore-1@customer.example>"
    message.set_content("Hello, the attached invoice charges me twice.\n\nCarol")
    message.add_attachment(
        ATTACHMENT, maintype="application", subtype="pdf", filename="invoice-4711.pdf"
    )
    return bytes(message)


async def next_event(broker: RabbitBroker, service: str, event: EventType) -> bytes:
    """The body of the next message waiting in `service`'s queue for `event` (acked)."""
    queue = await broker.declare_queue(rabbit_queue(queue_for(service, event)))
    incoming = await queue.get(timeout=10)
    assert incoming is not None, f"nothing in {service}'s queue for {event.value}"
    await incoming.ack()
    return incoming.body


async def mail_through_the_pipeline(settings: ServiceSettings, blobs: BlobStore) -> bytes:
    """One mail accepted by ingest, parsed, routed; returns its raw bytes."""
    raw = customer_mail()
    engine = make_engine(settings.database_url, pool_size=1)
    broker = make_broker(settings.amqp_url)
    try:
        sessions = make_sessions(engine)
        await broker.connect()
        await declare_topology(broker)
        publisher = EventPublisher(broker)
        ingest = IngestPorts(blobs, sessions, publisher, trace.get_tracer(__name__))
        accepted = await accept_raw_mail(raw, [address("cs")], ingest)
        assert accepted.status == "accepted"
        received = Envelope[MailReceived].model_validate_json(
            await next_event(broker, "parser", EventType.MAIL_RECEIVED)
        )
        await handle_mail_received(received, ParserPorts(blobs, sessions, publisher))
        parsed = Envelope[MailParsed].model_validate_json(
            await next_event(broker, "router", EventType.MAIL_PARSED)
        )
        tokens = ThreadTokens.from_keyring(settings.keyring())
        outcome = await route_in_transaction(sessions, blobs, parsed, tokens=tokens)
        assert outcome.status == RouteStatus.ROUTED
        return raw
    finally:
        await broker.stop()
        await engine.dispose()


async def table_contents(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the schema: its row count and a digest of all its rows."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        contents = {}
        for (table,) in tables:
            row = await conn.fetchrow(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t"  # noqa: S608  # names from pg_tables
            )
            assert row is not None
            contents[table] = (row[0], row[1])
        return contents
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def databases() -> AsyncIterator[tuple[IsolatedDatabase, IsolatedDatabase]]:
    """The source database (migrated) and the restore target (created empty by the test)."""
    source, target = IsolatedDatabase(), IsolatedDatabase()
    await source.create()
    try:
        yield source, target
    finally:
        await source.drop()
        await target.drop()


async def test_a_restored_backup_reads_the_same(
    databases: tuple[IsolatedDatabase, IsolatedDatabase], private_amqp_url: str, tmp_path: Path
) -> None:
    source, target = databases
    keys = Keyring.generate_setting("backup-test")
    settings = ServiceSettings(
        database_url=source.url,
        amqp_url=private_amqp_url,
        blob_dir=tmp_path / "blobs",
        encryption_keys=SecretStr(keys),
    )
    engine = make_engine(source.url, pool_size=1)
    try:
        demo = await seed_demo(make_sessions(engine))
    finally:
        await engine.dispose()
    raw = await mail_through_the_pipeline(settings, make_blob_store(settings))

    # The backup: the database first, then the blobs (docs/operations.md).
    dump, archive = tmp_path / "postdesk.dump", tmp_path / "blobs.tar"
    await asyncio.to_thread(
        run, pg_tool("pg_dump"), "--format=custom", f"--file={dump}", source.url
    )
    await asyncio.to_thread(run, "tar", "-C", str(settings.blob_dir), "-cf", str(archive), ".")

    # The restore: an empty database, pg_restore, the blobs unpacked into the new BLOB_DIR.
    admin = await asyncpg.connect(target.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{target.name}"')
    finally:
        await admin.close()
    await asyncio.to_thread(
        run,
        pg_tool("pg_restore"),
        "--no-owner",
        "--exit-on-error",
        f"--dbname={target.url}",
        str(dump),
    )
    restored_blobs = tmp_path / "restored-blobs"
    restored_blobs.mkdir()
    await asyncio.to_thread(run, "tar", "-C", str(restored_blobs), "-xf", str(archive))

    original, restored = await table_contents(source.url), await table_contents(target.url)
    assert restored == original
    assert original["tickets"][0] == 1
    assert original["messages"][0] == 1
    assert original["attachments"][0] == 1
    assert original["users"][0] == len(demo.users)
    await asyncio.to_thread(migrate, target.url)  # `postdesk migrate` on the restored database
    assert await table_contents(target.url) == original  # already at head: nothing to do

    engine = make_engine(target.url, pool_size=1)
    try:
        async with make_sessions(engine)() as session:
            message = (await session.scalars(select(Message))).one()
            attachment = (
                await session.scalars(
                    select(Attachment).where(col(Attachment.message_id) == message.id)
                )
            ).one()
    finally:
        await engine.dispose()
    keyring = Keyring.from_setting(keys)
    store = EncryptedBlobStore(LocalBlobStore(restored_blobs), keyring)
    assert await store.get(message.raw_blob_ref) == raw
    assert await store.get(attachment.blob_ref) == ATTACHMENT
    assert attachment.filename == "invoice-4711.pdf"
    assert (
        ATTACHMENT not in LocalBlobStore(restored_blobs).path_of(attachment.blob_ref).read_bytes()
    )
    strangers = EncryptedBlobStore(
        LocalBlobStore(restored_blobs), Keyring.from_setting(Keyring.generate_setting("other"))
    )
    with pytest.raises(BlobIntegrityError):
        await strangers.get(attachment.blob_ref)
