"""Maildir watching with real files, the machine's RabbitMQ and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import TracerProvider
from postdesk_contracts import EventType
from postdesk_contracts.topology import queue_for
from postdesk_ingest.domain import DedupeKey
from postdesk_ingest.maildir import MaildirSettings, MaildirSource, MaildirWatcher
from postdesk_ingest.main import create_app
from postdesk_ingest.service import Ports
from postdesk_ingest.settings import IngestSettings
from postdesk_runtime import (
    EventPublisher,
    declare_topology,
    make_blob_store,
    make_broker,
    make_engine,
    make_sessions,
)
from postdesk_runtime.settings import ServiceSettings
from postdesk_testing import drain, eventually

pytestmark = pytest.mark.integration

PARSER_QUEUE = queue_for("parser", EventType.MAIL_RECEIVED).name
RECIPIENT = "inbox@acme.example"


def mail() -> bytes:
    return (
        "From: Bob <bob@customer.example>\r\n"
        f"To: {RECIPIENT}\r\n"
        f"Subject: maildir {uuid.uuid4()}\r\n"
        f"Message-ID: <{uuid.uuid4()}@customer.example>\r\n"
        "\r\nDelivered by the MTA into a maildir.\r\n"
    ).encode()


def deliver(maildir: Path, raw: bytes) -> Path:
    """Deliver as an MTA does: write into tmp/, then rename into new/."""
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.M1P1.test"
    (maildir / "tmp" / name).write_bytes(raw)
    (maildir / "tmp" / name).rename(maildir / "new" / name)
    return maildir / "new" / name


def event_id_of(raw: bytes) -> str:
    return str(DedupeKey.of(hashlib.sha256(raw).hexdigest(), [RECIPIENT]).event_id)


async def parser_messages(amqp_url: str) -> list[dict[str, Any]]:
    """Every mail.received waiting for the parser, removed from its queue."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(PARSER_QUEUE, ensure=True)
        return [json.loads(m.body) for m in await drain(queue)]


@pytest_asyncio.fixture(loop_scope="session")
async def ports(database_url: str, amqp_url: str, tmp_path: Path) -> AsyncIterator[Ports]:
    broker = make_broker(amqp_url)
    await broker.connect()
    await declare_topology(broker)
    engine = make_engine(database_url, pool_size=2)
    await parser_messages(amqp_url)  # start from an empty parser queue
    yield Ports(
        blobs=make_blob_store(ServiceSettings(blob_dir=tmp_path / "blobs")),
        sessions=make_sessions(engine),
        publisher=EventPublisher(broker),
        tracer=TracerProvider().get_tracer("test"),
        publish_timeout=5.0,
    )
    await broker.stop()
    await engine.dispose()


def watcher(maildir: Path, ports: Ports) -> MaildirWatcher:
    return MaildirWatcher([MaildirSource(maildir, RECIPIENT)], ports, poll_seconds=0.01)


async def test_delivered_files_become_events_and_move_to_cur(
    ports: Ports, amqp_url: str, tmp_path: Path
) -> None:
    """Each file in new/ is published as mail.received, then moved to cur/ with :2,S; dotfiles stay."""
    maildir = tmp_path / "Maildir"
    raws = [mail(), mail()]
    paths = [deliver(maildir, raw) for raw in raws]
    (maildir / "new" / ".partial-by-some-tool").write_bytes(b"not a message")

    assert await watcher(maildir, ports).scan_once() == 2

    events = await parser_messages(amqp_url)
    assert sorted(e["id"] for e in events) == sorted(event_id_of(raw) for raw in raws)
    for event in events:
        assert event["payload"]["channel"] == "maildir"
        assert event["payload"]["source"] == f"maildir:{maildir}"
        assert event["payload"]["envelope_recipients"] == [RECIPIENT]
    assert sorted(p.name for p in (maildir / "new").iterdir()) == [".partial-by-some-tool"]
    assert sorted(p.name for p in (maildir / "cur").iterdir()) == sorted(
        p.name + ":2,S" for p in paths
    )
    assert await ports.blobs.get(events[0]["payload"]["raw_blob_ref"]) in raws


async def test_broker_failure_leaves_file_in_new_until_a_later_scan(
    ports: Ports, amqp_url: str, tmp_path: Path
) -> None:
    """With the broker gone the file stays in new/ (backoff); once it is back a scan moves it."""
    maildir = tmp_path / "Maildir"
    raw = mail()
    path = deliver(maildir, raw)
    dead_broker = make_broker(amqp_url)
    await dead_broker.connect()
    await dead_broker.stop()  # a connection that has gone away
    watch = watcher(maildir, ports)
    watch.ports = Ports(
        blobs=ports.blobs,
        sessions=ports.sessions,
        publisher=EventPublisher(dead_broker),
        tracer=ports.tracer,
        publish_timeout=2.0,
    )

    assert await watch.scan_once() == 0
    assert path.exists()
    assert await parser_messages(amqp_url) == []

    watch.ports = ports  # the broker is back

    async def moved() -> bool | None:
        await watch.scan_once()
        return None if path.exists() else True

    await eventually(moved)
    assert [e["id"] for e in await parser_messages(amqp_url)] == [event_id_of(raw)]
    assert (maildir / "cur" / (path.name + ":2,S")).is_file()


async def test_crash_between_publish_and_move_is_a_duplicate_next_time(
    ports: Ports, amqp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed move after the publish re-accepts the file as a duplicate: one event in all."""
    maildir = tmp_path / "Maildir"
    raw = mail()
    path = deliver(maildir, raw)
    watch = watcher(maildir, ports)

    def crash(_path: Path) -> None:
        raise OSError("simulated crash before the move")

    monkeypatch.setattr(watch, "_move_to_cur", crash)
    assert await watch.scan_once() == 0
    assert path.exists()
    monkeypatch.undo()

    async def moved() -> bool | None:
        await watch.scan_once()
        return None if path.exists() else True

    await eventually(moved)
    assert [e["id"] for e in await parser_messages(amqp_url)] == [event_id_of(raw)]


async def test_app_lifespan_watches_configured_maildirs(
    database_url: str, amqp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """INGEST_MAILDIRS makes the running ingest app pick up deliveries by itself."""
    maildir = tmp_path / "Maildir"
    monkeypatch.setenv("INGEST_MAILDIRS", f"{maildir}={RECIPIENT}")
    monkeypatch.setenv("INGEST_MAILDIR_POLL_SECONDS", "0.05")
    settings = IngestSettings(
        database_url=database_url, amqp_url=amqp_url, blob_dir=tmp_path / "blobs"
    )
    app = create_app(settings)
    async with app.lifespan():
        raw = mail()
        path = deliver(maildir, raw)

        async def moved() -> bool | None:
            return None if path.exists() else True

        await eventually(moved)
    assert event_id_of(raw) in [e["id"] for e in await parser_messages(amqp_url)]


def test_settings_parse_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """INGEST_MAILDIRS takes comma-separated or JSON 'path=recipient' entries and refuses others."""
    monkeypatch.setenv("INGEST_MAILDIRS", "/a/md=Cs@Acme.example, /b=x@b.example")
    assert MaildirSettings().maildir_sources() == [
        MaildirSource(Path("/a/md"), "cs@acme.example"),
        MaildirSource(Path("/b"), "x@b.example"),
    ]
    monkeypatch.setenv("INGEST_MAILDIRS", '["/c=y@c.example"]')
    assert MaildirSettings().maildir_sources() == [MaildirSource(Path("/c"), "y@c.example")]
    monkeypatch.setenv("INGEST_MAILDIRS", "/no-recipient")
    with pytest.raises(ValueError, match="path=recipient"):
        MaildirSettings()
    monkeypatch.delenv("INGEST_MAILDIRS")
    assert MaildirSettings().maildir_sources() == []
