"""The sender against the real PostgreSQL and real SMTP servers (aiosmtpd on loopback).

The tests drive time through `now`. They run on a database of this module's
own, and every test starts with nothing due, so `send_due` takes only the
messages the test recorded.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
from postdesk_contracts import Envelope, OutboundRequested
from postdesk_contracts.envelope import derived_event_id
from postdesk_contracts.topology import DEAD_LETTER_EXCHANGE
from postdesk_outbound import db
from postdesk_outbound.domain import (
    CRASH_BEFORE_TRANSACTION,
    CRASH_DURING_TRANSACTION,
    NO_SMTP_REASON,
    OutboundStatus,
)
from postdesk_outbound.sender import recover_stalled, send_due
from postdesk_outbound.service import handle_outbound
from postdesk_outbound.settings import OutboundSettings
from postdesk_runtime import (
    BlobStore,
    EventPublisher,
    OutboxRelay,
    Sessions,
    ThreadTokens,
    declare_topology,
    make_blob_store,
    make_broker,
    make_engine,
    make_sessions,
)
from postdesk_runtime.metrics import metrics
from postdesk_schema import OutboundMessage
from postdesk_testing import IsolatedDatabase, drain, eventually, sample_value
from postdesk_testing.smtp import smtp_server
from sqlalchemy import update
from sqlmodel import col

from .factories import Seed, make_event, make_request
from .sending import body_of, events, parsed, seed_sender, stages, stored

pytestmark = pytest.mark.integration

KEYRING = OutboundSettings().keyring()
TOKENS = ThreadTokens.from_keyring(KEYRING)
LEASE = timedelta(minutes=10)
DLQ = "outbound.outbound.requested.dlq"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sender_database() -> AsyncIterator[str]:
    database = IsolatedDatabase()
    yield await database.create()
    await database.drop()


@pytest_asyncio.fixture(loop_scope="session")
async def sessions(sender_database: str) -> AsyncIterator[Sessions]:
    engine = make_engine(sender_database, pool_size=4)
    made = make_sessions(engine)
    async with made() as session, session.begin():
        # An earlier test's leftovers must not be sent by this test's send_due.
        await session.execute(
            update(OutboundMessage)
            .where(col(OutboundMessage.status).in_(["scheduled", "retrying", "sending"]))
            .values(status="cancelled")
        )
    yield made
    await engine.dispose()


@pytest.fixture
def blobs(blob_dir: Path) -> BlobStore:
    """The store the outbound app builds from its settings: encrypted, as in production."""
    return make_blob_store(OutboundSettings(blob_dir=blob_dir))


async def send(sessions: Sessions, blobs: BlobStore, now: datetime, **options: Any) -> int:
    return await send_due(sessions, blobs, KEYRING, TOKENS, now=now, **options)


async def request(
    sessions: Sessions, seed: Seed, at: datetime, **overrides: Any
) -> tuple[OutboundRequested, Envelope[OutboundRequested]]:
    """Record an outbound.requested for the seed's account at `at`, as the consumer does."""
    wanted = make_request(seed, **overrides)
    event = make_event(seed, wanted)
    async with sessions() as session, session.begin():
        await handle_outbound(session, event, now=at)
    return wanted, event


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_a_request_is_sent_once_with_its_copy_and_mail_sent(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """The server receives the message once; the stored copy is those bytes; mail.sent says so."""
    t0 = now()
    async with smtp_server() as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, event = await request(sessions, seed, t0)
        assert await send(sessions, blobs, t0) == 1
        assert await send(sessions, blobs, t0 + timedelta(hours=1)) == 0

    [received] = server.received
    row = await stored(sessions, wanted.outbound_id)
    assert row.status == OutboundStatus.SENT
    assert (row.attempts, row.sent_at, row.smtp_response) == (1, t0, "250 2.0.0 OK queued")
    assert received.mail_from == seed.account.address
    assert received.rcpt_tos == ["carol@customer.example"]
    assert row.raw_blob_ref is not None
    assert await blobs.get(row.raw_blob_ref) == received.data
    message = parsed(received.data)
    assert message["Message-ID"] == f"<{row.message_id_header}>"
    assert message["Subject"] == wanted.subject
    assert stages(row) == ["requested", "done"]

    [sent] = await events(sessions, "mail.sent", wanted.outbound_id)
    envelope = body_of(sent)
    assert sent.id == derived_event_id(wanted.outbound_id, "mail.sent")
    assert (envelope["causation_id"], envelope["correlation_id"]) == (
        str(event.id),
        str(event.correlation_id),
    )
    assert envelope["tenant_id"] == str(seed.tenant.id)
    assert envelope["payload"]["message_id"] == row.message_id_header
    assert envelope["payload"]["raw_blob_ref"] == row.raw_blob_ref
    assert envelope["payload"]["smtp_response"] == "250 2.0.0 OK queued"
    assert datetime.fromisoformat(envelope["payload"]["sent_at"]) == t0
    assert await events(sessions, "mail.failed", wanted.outbound_id) == []


async def test_a_redelivered_or_rerequested_request_sends_once(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """The same event twice and the same outbound_id in a new event schedule one message."""
    t0 = now()
    async with smtp_server() as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, event = await request(sessions, seed, t0)
        for again in (event, event, make_event(seed, wanted)):
            async with sessions() as session, session.begin():
                outcome = await handle_outbound(session, again, now=t0 + timedelta(seconds=1))
            assert outcome.status is None
        assert await send(sessions, blobs, t0 + timedelta(seconds=5)) == 1
        assert await send(sessions, blobs, t0 + timedelta(days=1)) == 0
    assert len(server.received) == 1
    assert len(await events(sessions, "mail.sent", wanted.outbound_id)) == 1


async def test_two_senders_at_once_send_once(sessions: Sessions, blobs: BlobStore) -> None:
    """Two send_due runs side by side: each message is claimed by one of them."""
    t0 = now()
    async with smtp_server() as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        ids = [(await request(sessions, seed, t0))[0].outbound_id for _ in range(6)]
        claimed = await asyncio.gather(*(send(sessions, blobs, t0) for _ in range(2)))
    assert sum(claimed) == 6
    assert len(server.received) == 6
    for outbound_id in ids:
        assert (await stored(sessions, outbound_id)).attempts == 1
        assert len(await events(sessions, "mail.sent", outbound_id)) == 1


async def test_a_4xx_is_retried_after_backoff_then_sent(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """451 at RCPT: retrying with a delay of at most the base; not before it, sent at it."""
    t0 = now()
    results_before = metrics().exposition().decode()
    async with smtp_server(replies={"RCPT": ["451 4.3.0 try again later"]}) as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0)
        assert await send(sessions, blobs, t0) == 1
        row = await stored(sessions, wanted.outbound_id)
        assert row.status == OutboundStatus.RETRYING
        assert row.next_attempt_at is not None
        assert t0 + timedelta(seconds=1) <= row.next_attempt_at <= t0 + timedelta(seconds=30)
        assert row.smtp_response == "carol@customer.example: 451 4.3.0 try again later"
        assert server.received == []
        assert await events(sessions, "mail.failed", wanted.outbound_id) == []

        assert await send(sessions, blobs, row.next_attempt_at - timedelta(milliseconds=1)) == 0
        assert await send(sessions, blobs, row.next_attempt_at) == 1

    row = await stored(sessions, wanted.outbound_id)
    assert (row.status, row.attempts) == (OutboundStatus.SENT, 2)
    assert len(server.received) == 1
    retry = row.attempt_log[1]
    assert (retry["stage"], retry["detail"], retry["outcome"], retry["attempt"]) == (
        "rcpt",
        "carol@customer.example: 451 4.3.0 try again later",
        "temporary",
        1,
    )
    assert stages(row) == ["requested", "rcpt", "done"]
    assert len(await events(sessions, "mail.sent", wanted.outbound_id)) == 1
    results_after = metrics().exposition().decode()
    for result in ("temporary", "sent"):
        counted = sample_value(results_after, "postdesk_smtp_results_total", result=result)
        assert (
            counted - sample_value(results_before, "postdesk_smtp_results_total", result=result)
            == 1
        )


async def test_the_backoff_base_and_cap_are_the_configured_ones(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """RETRY_BASE_SECONDS and RETRY_CAP_SECONDS (send_due's retry_base, retry_cap): after the
    n-th 4xx the next attempt is at least 1 s and at most min(cap, base * 2**(n-1)) later."""
    t0 = now()
    options = {"retry_base": timedelta(seconds=2), "retry_cap": timedelta(seconds=3)}
    async with smtp_server(replies={"MAIL": ["451 4.7.1 greylisted"] * 3}) as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0)
        at = t0
        for ceiling in (2, 3, 3):  # the base, then twice and four times it, capped
            assert await send(sessions, blobs, at, **options) == 1
            row = await stored(sessions, wanted.outbound_id)
            assert row.status == OutboundStatus.RETRYING
            assert row.next_attempt_at is not None
            delay = row.next_attempt_at - at
            assert timedelta(seconds=1) <= delay <= timedelta(seconds=ceiling), delay
            at = row.next_attempt_at
    assert server.received == []


async def test_a_connection_refused_is_temporary(sessions: Sessions, blobs: BlobStore) -> None:
    """No server listening: retried later, nothing reported yet."""
    t0 = now()
    async with smtp_server() as server:
        port = server.port
    seed = await seed_sender(sessions, smtp_port=port)
    wanted, _ = await request(sessions, seed, t0)
    assert await send(sessions, blobs, t0) == 1
    row = await stored(sessions, wanted.outbound_id)
    assert (row.status, row.attempts) == (OutboundStatus.RETRYING, 1)
    assert row.attempt_log[-1]["stage"] == "connect"
    assert await events(sessions, "mail.failed", wanted.outbound_id) == []


async def test_a_5xx_fails_for_good_with_the_servers_answer(
    sessions: Sessions, blobs: BlobStore
) -> None:
    t0 = now()
    async with smtp_server(replies={"RCPT": ["550 5.1.1 no such user here"]}) as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0)
        assert await send(sessions, blobs, t0) == 1
        assert await send(sessions, blobs, t0 + timedelta(days=1)) == 0
    assert server.received == []
    answer = "carol@customer.example: 550 5.1.1 no such user here"
    row = await stored(sessions, wanted.outbound_id)
    assert (row.status, row.failure_reason, row.smtp_response, row.attempts) == (
        OutboundStatus.FAILED,
        answer,
        answer,
        1,
    )
    assert row.next_attempt_at is None
    [failed] = await events(sessions, "mail.failed", wanted.outbound_id)
    assert failed.id == derived_event_id(wanted.outbound_id, "mail.failed")
    payload = body_of(failed)["payload"]
    assert (payload["reason"], payload["permanent"]) == (answer, True)


async def test_without_an_smtp_server_the_message_fails_for_good(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Recorded like any request; the sender fails it, saying no server is configured."""
    t0 = now()
    seed = await seed_sender(sessions, smtp_port=None)
    wanted, _ = await request(sessions, seed, t0)
    assert (await stored(sessions, wanted.outbound_id)).status == OutboundStatus.SCHEDULED
    assert await send(sessions, blobs, t0) == 1
    row = await stored(sessions, wanted.outbound_id)
    assert (row.status, row.failure_reason) == (OutboundStatus.FAILED, NO_SMTP_REASON)
    assert row.raw_blob_ref is None
    [failed] = await events(sessions, "mail.failed", wanted.outbound_id)
    payload = body_of(failed)["payload"]
    assert (payload["reason"], payload["permanent"]) == (NO_SMTP_REASON, True)
    assert NO_SMTP_REASON == "no outbound SMTP server configured for this tenant"


async def test_an_unusable_request_fails_for_good(sessions: Sessions, blobs: BlobStore) -> None:
    """A header injection found while rendering is permanent: nothing reaches the server."""
    t0 = now()
    async with smtp_server() as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0, subject="Hi\r\nBcc: victim@example.com")
        assert await send(sessions, blobs, t0) == 1
    assert server.commands == []
    row = await stored(sessions, wanted.outbound_id)
    assert row.status == OutboundStatus.FAILED
    assert row.failure_reason.startswith("cannot be sent: ")
    assert len(await events(sessions, "mail.failed", wanted.outbound_id)) == 1


async def test_the_last_failed_attempt_is_dead_and_dead_lettered_with_its_history(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """max_attempts 4xx in a row: dead, mail.failed saying so, and the request with every
    attempt in the dead-letter queue."""
    t0 = now()
    replies = {"MAIL": ["451 4.7.1 greylisted", "452 4.3.1 out of space"]}
    async with smtp_server(replies=replies) as server:
        seed = await seed_sender(sessions, smtp_port=server.port, outbound={"max_attempts": 2})
        wanted, event = await request(sessions, seed, t0)
        assert await send(sessions, blobs, t0) == 1
        assert await send(sessions, blobs, t0 + timedelta(hours=2)) == 1
        assert await send(sessions, blobs, t0 + timedelta(days=2)) == 0
    assert server.received == []
    row = await stored(sessions, wanted.outbound_id)
    reason = "gave up after 2 attempts: 452 4.3.1 out of space"
    assert (row.status, row.attempts, row.failure_reason) == (OutboundStatus.DEAD, 2, reason)
    assert stages(row) == ["requested", "mail", "mail"]
    [failed] = await events(sessions, "mail.failed", wanted.outbound_id)
    assert body_of(failed)["payload"]["reason"] == reason
    assert body_of(failed)["payload"]["permanent"] is True

    [dead] = await events(sessions, "outbound.outbound.requested", wanted.outbound_id)
    assert dead.id == derived_event_id(wanted.outbound_id, "dead-letter")
    assert dead.headers["x-postdesk-exchange"] == DEAD_LETTER_EXCHANGE
    assert dead.headers["x-postdesk-dead-reason"] == reason
    history = json.loads(dead.headers["x-postdesk-history"])
    assert [entry["detail"] for entry in history[1:]] == [
        "451 4.7.1 greylisted",
        "452 4.3.1 out of space",
    ]
    original = body_of(dead)
    assert (original["id"], original["type"], original["correlation_id"]) == (
        str(event.id),
        "outbound.requested",
        str(event.correlation_id),
    )
    assert original["payload"]["outbound_id"] == str(wanted.outbound_id)


async def test_the_dead_letter_row_lands_in_the_dead_letter_queue(
    sessions: Sessions, blobs: BlobStore, private_amqp_url: str
) -> None:
    """The outbox relay publishes it to the dead-letter exchange, into outbound.outbound.requested.dlq."""
    t0 = now()
    async with smtp_server(replies={"MAIL": ["421 4.3.2 shutting down"]}) as server:
        seed = await seed_sender(sessions, smtp_port=server.port, outbound={"max_attempts": 1})
        wanted, event = await request(sessions, seed, t0)
        assert await send(sessions, blobs, t0) == 1
    assert (await stored(sessions, wanted.outbound_id)).status == OutboundStatus.DEAD

    broker = make_broker(private_amqp_url)
    await broker.connect()
    try:
        await declare_topology(broker)
        relay = OutboxRelay("outbound", sessions, EventPublisher(broker))
        while await relay.relay_once():
            pass
    finally:
        await broker.stop()
    connection = await aio_pika.connect(private_amqp_url)
    async with connection:
        channel = await connection.channel()
        dead_lettered = await drain(await channel.get_queue(DLQ, ensure=True))
    row_id = str(derived_event_id(wanted.outbound_id, "dead-letter"))
    [message] = [m for m in dead_lettered if m.message_id == row_id]
    assert json.loads(message.body)["id"] == str(event.id)
    assert message.headers is not None
    assert "x-postdesk-exchange" not in message.headers
    history = json.loads(str(message.headers["x-postdesk-history"]))
    assert history[-1]["detail"] == "421 4.3.2 shutting down"


async def test_a_scheduled_message_waits_for_its_time(sessions: Sessions, blobs: BlobStore) -> None:
    t0 = now()
    send_at = t0 + timedelta(hours=3)
    async with smtp_server() as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0, send_at=send_at)
        assert (await stored(sessions, wanted.outbound_id)).next_attempt_at == send_at
        assert await send(sessions, blobs, send_at - timedelta(seconds=1)) == 0
        assert server.received == []
        assert await send(sessions, blobs, send_at) == 1
    assert len(server.received) == 1
    assert (await stored(sessions, wanted.outbound_id)).sent_at == send_at


async def test_the_undo_window_delays_sending_and_a_cancelled_message_is_not_sent(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Due after undo_seconds; cancel() while scheduled stops it; cancel() after that is refused."""
    t0 = now()
    async with smtp_server() as server:
        seed = await seed_sender(sessions, smtp_port=server.port, outbound={"undo_seconds": 30})
        kept, _ = await request(sessions, seed, t0)
        undone, _ = await request(sessions, seed, t0)
        assert await send(sessions, blobs, t0 + timedelta(seconds=29)) == 0
        user = uuid.uuid4()
        async with sessions() as session, session.begin():
            cancelled = await db.cancel(
                session, tenant_id=seed.tenant.id, outbound_id=undone.outbound_id, cancelled_by=user
            )
        assert cancelled == (seed.account.id, None)
        assert await send(sessions, blobs, t0 + timedelta(seconds=30)) == 1
        async with sessions() as session, session.begin():
            for outbound_id in (undone.outbound_id, kept.outbound_id):
                again = await db.cancel(
                    session, tenant_id=seed.tenant.id, outbound_id=outbound_id, cancelled_by=user
                )
                assert again is None
    assert len(server.received) == 1
    assert (await stored(sessions, kept.outbound_id)).status == OutboundStatus.SENT
    row = await stored(sessions, undone.outbound_id)
    assert row.status == OutboundStatus.CANCELLED
    assert row.attempt_log[-1]["stage"] == "cancelled"
    assert row.attempt_log[-1]["by"] == str(user)
    assert await events(sessions, "mail.sent", undone.outbound_id) == []


async def test_another_tenant_cannot_cancel(sessions: Sessions, blobs: BlobStore) -> None:
    t0 = now()
    seed = await seed_sender(sessions, smtp_port=None, outbound={"undo_seconds": 30})
    other = await seed_sender(sessions, smtp_port=None)
    wanted, _ = await request(sessions, seed, t0)
    async with sessions() as session, session.begin():
        refused = await db.cancel(
            session, tenant_id=other.tenant.id, outbound_id=wanted.outbound_id, cancelled_by=None
        )
    assert refused is None
    assert (await stored(sessions, wanted.outbound_id)).status == OutboundStatus.SCHEDULED


async def test_a_claimed_message_can_no_longer_be_cancelled(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Once the sender has it (sending), undo is refused: never both cancelled and sent."""
    t0 = now()
    seed = await seed_sender(sessions, smtp_port=None)
    wanted, _ = await request(sessions, seed, t0)
    async with sessions() as session, session.begin():
        [claim] = await db.claim_due(session, now=t0, batch=5)
    async with sessions() as session, session.begin():
        refused = await db.cancel(
            session, tenant_id=seed.tenant.id, outbound_id=wanted.outbound_id, cancelled_by=None
        )
    assert refused is None
    assert claim.id == wanted.outbound_id
    assert (await stored(sessions, wanted.outbound_id)).status == OutboundStatus.SENDING


QUOTAS = [
    ("per_user_per_day", timedelta(hours=24)),
    ("per_account_per_day", timedelta(hours=24)),
    ("per_tenant_per_minute", timedelta(seconds=60)),
]


@pytest.mark.parametrize(("quota", "window"), QUOTAS)
async def test_a_full_quota_defers_until_a_slot_frees(
    sessions: Sessions, blobs: BlobStore, quota: str, window: timedelta
) -> None:
    """Limit 2: the third message waits until the first send leaves the window, without
    spending an attempt, then goes out."""
    t0 = now()
    limits = {"per_user_per_day": 0, "per_account_per_day": 0, "per_tenant_per_minute": 0}
    user = uuid.uuid4()
    async with smtp_server() as server:
        seed = await seed_sender(
            sessions, smtp_port=server.port, outbound={"quota": limits | {quota: 2}}
        )
        first, _ = await request(sessions, seed, t0, requested_by=user)
        assert await send(sessions, blobs, t0) == 1
        second, _ = await request(sessions, seed, t0, requested_by=user)
        assert await send(sessions, blobs, t0 + timedelta(seconds=1)) == 1
        third, _ = await request(sessions, seed, t0, requested_by=user)
        assert await send(sessions, blobs, t0 + timedelta(seconds=2)) == 1
        assert len(server.received) == 2
        for earlier in (first, second):
            assert (await stored(sessions, earlier.outbound_id)).status == OutboundStatus.SENT

        row = await stored(sessions, third.outbound_id)
        assert (row.status, row.attempts, row.next_attempt_at) == (
            OutboundStatus.RETRYING,
            0,
            t0 + window,
        )
        assert row.attempt_log[-1]["stage"] == "quota"
        assert row.attempt_log[-1]["detail"].startswith(f"deferred: quota {quota} (2) reached")
        assert await send(sessions, blobs, t0 + window - timedelta(milliseconds=1)) == 0
        assert await send(sessions, blobs, t0 + window) == 1
    assert len(server.received) == 3
    row = await stored(sessions, third.outbound_id)
    assert (row.status, row.attempts) == (OutboundStatus.SENT, 1)


async def test_quotas_are_per_scope(sessions: Sessions, blobs: BlobStore) -> None:
    """Another user's sends do not count toward a user's daily limit."""
    t0 = now()
    async with smtp_server() as server:
        seed = await seed_sender(
            sessions, smtp_port=server.port, outbound={"quota": {"per_user_per_day": 1}}
        )
        await request(sessions, seed, t0, requested_by=uuid.uuid4())
        await request(sessions, seed, t0, requested_by=uuid.uuid4())
        await request(sessions, seed, t0)  # automatic mail: no user
        assert await send(sessions, blobs, t0) == 3
    assert len(server.received) == 3


async def test_a_sender_that_stopped_before_the_transaction_is_recovered(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Claimed, then nothing (the process died): after the lease it is retried; nothing had
    been sent, and the log says so."""
    t0 = now()
    async with smtp_server() as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0)
        async with sessions() as session, session.begin():
            await db.claim_due(session, now=t0, batch=5)
        later = t0 + LEASE
        assert await recover_stalled(sessions, now=later, lease=LEASE) == 0  # not yet stale
        later += timedelta(seconds=1)
        assert await recover_stalled(sessions, now=later, lease=LEASE) == 1
        assert await send(sessions, blobs, later) == 1
    assert len(server.received) == 1
    row = await stored(sessions, wanted.outbound_id)
    assert (row.status, row.attempts) == (OutboundStatus.SENT, 2)
    assert row.attempt_log[1]["stage"] == "recovered"
    assert row.attempt_log[1]["detail"] == CRASH_BEFORE_TRANSACTION


async def test_a_sender_that_stopped_during_the_transaction_sends_again_with_the_same_message_id(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """transmitting_at set: the server may have the message; it is sent again with the same
    Message-ID and the log says it may be a duplicate."""
    t0 = now()
    async with smtp_server() as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0)
        async with sessions() as session, session.begin():
            [claim] = await db.claim_due(session, now=t0, batch=5)
        async with sessions() as session, session.begin():
            assert await db.mark_transmitting(
                session, claim, now=t0, raw_blob_ref="sha256:" + "0" * 64, message_id="x@y"
            )
        later = t0 + LEASE + timedelta(seconds=1)
        assert await recover_stalled(sessions, now=later, lease=LEASE) == 1
        assert await send(sessions, blobs, later) == 1
    row = await stored(sessions, wanted.outbound_id)
    assert row.status == OutboundStatus.SENT
    assert row.attempt_log[1]["detail"] == CRASH_DURING_TRANSACTION
    assert parsed(server.received[0].data)["Message-ID"] == f"<{row.message_id_header}>"


async def test_a_sender_whose_claim_was_recovered_records_nothing(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A claim taken back by recovery is dead: its holder can neither mark nor settle the row."""
    t0 = now()
    seed = await seed_sender(sessions, smtp_port=None)
    await request(sessions, seed, t0)
    async with sessions() as session, session.begin():
        [claim] = await db.claim_due(session, now=t0, batch=5)
    assert await recover_stalled(sessions, now=t0 + LEASE * 2, lease=LEASE) == 1
    async with sessions() as session, session.begin():
        assert not await db.mark_transmitting(
            session, claim, now=t0, raw_blob_ref="sha256:" + "0" * 64, message_id="x@y"
        )
        assert not await db.settle(session, claim, OutboundStatus.SENT, now=t0)
    assert (await stored(sessions, claim.id)).status == OutboundStatus.RETRYING


async def test_a_stalled_message_at_its_last_attempt_is_dead(
    sessions: Sessions, blobs: BlobStore
) -> None:
    t0 = now()
    seed = await seed_sender(sessions, smtp_port=None, outbound={"max_attempts": 1})
    wanted, _ = await request(sessions, seed, t0)
    async with sessions() as session, session.begin():
        await db.claim_due(session, now=t0, batch=5)
    assert await recover_stalled(sessions, now=t0 + LEASE * 2, lease=LEASE) == 1
    row = await stored(sessions, wanted.outbound_id)
    assert row.status == OutboundStatus.DEAD
    assert row.failure_reason == f"gave up after 1 attempts: {CRASH_BEFORE_TRANSACTION}"
    assert len(await events(sessions, "mail.failed", wanted.outbound_id)) == 1
    assert len(await events(sessions, "outbound.outbound.requested", wanted.outbound_id)) == 1


async def test_a_stopped_run_gives_back_what_it_had_not_started(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Cancelling send_due (shutdown) while it waits on a silent server puts the message
    back to retrying at once, the attempt not counted."""
    t0 = now()
    async with smtp_server(replies={"MAIL": ["HANG"]}) as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0)
        run = asyncio.create_task(send(sessions, blobs, t0))

        async def hanging() -> bool | None:
            return True if server.commands == ["MAIL"] else None

        await eventually(hanging)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    row = await stored(sessions, wanted.outbound_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboundStatus.RETRYING, 0, t0)
    assert row.attempt_log[-1]["stage"] == "released"


async def test_an_attempt_that_outlives_half_the_lease_is_cut_off(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A server that takes the message and never answers: the attempt ends at half the lease
    as a temporary failure that says the server may have the message."""
    t0 = now()
    async with smtp_server(replies={"DATA": ["HANG"]}) as server:
        seed = await seed_sender(sessions, smtp_port=server.port)
        wanted, _ = await request(sessions, seed, t0)
        assert await send(sessions, blobs, t0, lease=timedelta(seconds=4)) == 1
    assert len(server.received) == 1
    row = await stored(sessions, wanted.outbound_id)
    assert (row.status, row.attempts) == (OutboundStatus.RETRYING, 1)
    assert row.transmitting_at == t0
    last = row.attempt_log[-1]
    assert last["stage"] == "timeout"
    assert last["detail"].startswith("timed out after 2 s during the SMTP transaction")
    assert "may duplicate" in last["detail"]
