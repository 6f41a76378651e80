"""Delivering webhooks to a real HTTP receiver on 127.0.0.1, against the real PostgreSQL.

The deliverers run on a clock in the year 2000 and the deliveries here are
due then, so they never take another test's deliveries (due now) and those
tests never see these.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from postdesk_contracts import EventType, TicketChange, TicketUpdated, new_envelope
from postdesk_notifier import webhook_store
from postdesk_notifier.settings import NotifierSettings
from postdesk_notifier.webhook_delivery import WebhookDeliverer
from postdesk_notifier.webhook_rules import AttemptResult, RetryPolicy, settle
from postdesk_notifier.webhooks import fan_out
from postdesk_runtime import Sessions
from postdesk_schema import Tenant, WebhookDelivery, WebhookSubscription
from postdesk_testing.smtp import make_certificate
from postdesk_testing.webhook_receiver import Receiver, running_receiver
from sqlalchemy import delete, update
from sqlmodel import col

from .webhook_factories import (
    TEST_KEYRING,
    TEST_SECRET,
    add_delivery,
    add_subscription,
    add_tenant,
)

pytestmark = pytest.mark.integration

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> datetime:
        return self.now


def make_deliverer(sessions: Sessions, clock: Clock, **settings: Any) -> WebhookDeliverer:
    """A deliverer whose jitter always draws 0.5 (backoff = half the ceiling)."""
    defaults: dict[str, Any] = {"webhook_retry_base_seconds": 30.0, "webhook_max_attempts": 8}
    return WebhookDeliverer(
        sessions,
        NotifierSettings(**(defaults | settings)),
        TEST_KEYRING,
        clock=clock,
        rand=lambda: 0.5,
    )


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver(TEST_SECRET) as running:
        yield running


@pytest_asyncio.fixture
async def tenant(sessions: Sessions) -> AsyncIterator[Tenant]:
    """A tenant whose deliveries are removed afterwards, so none stays due in the year 2000."""
    tenant = await add_tenant(sessions)
    yield tenant
    async with sessions() as session, session.begin():
        await session.execute(
            delete(WebhookDelivery).where(col(WebhookDelivery.tenant_id) == tenant.id)
        )


async def allow_private(sessions: Sessions, tenant: Tenant) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Tenant)
            .where(col(Tenant.id) == tenant.id)
            .values(settings={"webhooks_allow_private_targets": True})
        )


async def subscribe(
    sessions: Sessions, tenant: Tenant, url: str, *, is_active: bool = True
) -> WebhookSubscription:
    return await add_subscription(
        sessions, tenant.id, ["ticket.updated"], url=url, is_active=is_active
    )


async def reload(sessions: Sessions, delivery_id: uuid.UUID) -> WebhookDelivery:
    async with sessions() as session:
        row = await session.get(WebhookDelivery, delivery_id)
    assert row is not None
    return row


async def test_fanned_out_event_arrives_signed_with_its_envelope(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """The POST carries the envelope as JSON, signed over the exact body, and the ids."""
    await allow_private(sessions, tenant)
    await subscribe(sessions, tenant, receiver.url("/ok"))
    event = new_envelope(
        EventType.TICKET_UPDATED,
        TicketUpdated(
            ticket_id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            changes=[TicketChange(field="status", old="open", new="closed")],
            rule="agent",
            reason="résolu",
        ),
        tenant_id=tenant.id,
    )
    async with sessions() as session, session.begin():
        assert await fan_out(session, event) == 1
        await session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.event_id) == event.id)
            .values(next_attempt_at=EPOCH)
        )

    assert await make_deliverer(sessions, Clock()).deliver_due() == 1

    [request] = receiver.received
    assert request.signature_ok
    assert json.loads(request.body) == event.model_dump(mode="json", by_alias=True)
    assert request.headers["postdesk-event-id"] == str(event.id)
    assert request.headers["postdesk-event-type"] == "ticket.updated"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "postdesk-webhooks"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    delivery = await reload(sessions, uuid.UUID(request.headers["postdesk-delivery-id"]))
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)
    assert (delivery.delivered_at, delivery.last_error, delivery.claimed_at) == (EPOCH, "", None)
    [entry] = delivery.attempt_log
    assert (entry["at"], entry["status"]) == (EPOCH.isoformat(), 200)
    assert await make_deliverer(sessions, Clock()).deliver_due() == 0


async def test_host_name_is_connected_by_vetted_address_with_its_host_header(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """A URL naming localhost reaches the receiver (by a vetted address) with Host: localhost."""
    await allow_private(sessions, tenant)
    subscription = await subscribe(sessions, tenant, receiver.url("/ok", host="localhost"))
    delivery = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)

    await make_deliverer(sessions, Clock()).deliver_due()

    [request] = receiver.received
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert (await reload(sessions, delivery.id)).status == "delivered"


async def test_https_to_a_pinned_address_verifies_the_host_name(
    sessions: Sessions, tenant: Tenant, tmp_path: Path
) -> None:
    """Connected by address, TLS still names and verifies the URL's host: a certificate for
    localhost only (no IP) is accepted for https://localhost, one for another name is not."""
    await allow_private(sessions, tenant)
    good = make_certificate(tmp_path / "good", dns_names=("localhost",), ip_addresses=())
    wrong = make_certificate(tmp_path / "wrong", dns_names=("other.example",), ip_addresses=())
    for certificate, expected in ((good, "delivered"), (wrong, "retrying")):
        async with running_receiver(TEST_SECRET, certificate) as receiver:
            subscription = await subscribe(sessions, tenant, receiver.url("/ok", "localhost"))
            delivery = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)
            deliverer = make_deliverer(sessions, Clock(), webhook_ca_file=str(certificate.ca_file))
            await deliverer.deliver_due()
        row = await reload(sessions, delivery.id)
        assert row.status == expected, row.last_error
        if expected == "delivered":
            [request] = receiver.received
            assert request.signature_ok
            assert request.headers["host"] == f"localhost:{receiver.port}"
        else:
            assert receiver.received == []
            assert "CERTIFICATE_VERIFY_FAILED" in row.last_error


async def test_server_error_is_retried_after_backoff(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """A 500 makes the delivery retrying, due after the backoff; the retry delivers it."""
    await allow_private(sessions, tenant)
    subscription = await subscribe(sessions, tenant, receiver.url("/flaky"))
    delivery = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)
    clock = Clock()
    deliverer = make_deliverer(sessions, clock)

    await deliverer.deliver_due()
    first = await reload(sessions, delivery.id)
    assert (first.status, first.attempts, first.response_status) == ("retrying", 1, 500)
    assert first.last_error == "the receiver answered HTTP 500"
    assert first.next_attempt_at == EPOCH + timedelta(seconds=15)  # 0.5 * 30 s
    assert await deliverer.deliver_due() == 0

    clock.now = first.next_attempt_at
    assert await deliverer.deliver_due() == 1
    second = await reload(sessions, delivery.id)
    assert (second.status, second.attempts, second.response_status) == ("delivered", 2, 200)
    assert [entry["status"] for entry in second.attempt_log] == [500, 200]
    assert receiver.deliveries() == {str(delivery.id): 2}
    assert all(request.signature_ok for request in receiver.received)


async def test_redirect_is_not_followed(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """A 302 is a failed attempt; its Location is not requested."""
    await allow_private(sessions, tenant)
    subscription = await subscribe(sessions, tenant, receiver.url("/redirect"))
    delivery = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)

    await make_deliverer(sessions, Clock()).deliver_due()

    assert [request.path for request in receiver.received] == ["/redirect"]
    row = await reload(sessions, delivery.id)
    assert (row.status, row.response_status) == ("retrying", 302)


async def test_hanging_receiver_times_out_and_is_retried(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """No answer within the timeout is a failed attempt, retried later."""
    await allow_private(sessions, tenant)
    subscription = await subscribe(sessions, tenant, receiver.url("/hang"))
    delivery = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)

    await make_deliverer(sessions, Clock(), webhook_timeout_seconds=0.3).deliver_due()

    row = await reload(sessions, delivery.id)
    assert (row.status, row.attempts, row.response_status) == ("retrying", 1, None)
    assert row.last_error == "no response within 0.3 s"
    assert row.attempt_log[0]["error"] == "no response within 0.3 s"


async def test_closed_port_is_a_connection_error_and_retried(
    sessions: Sessions, tenant: Tenant
) -> None:
    """Nobody listening: the attempt fails with the address's connection error, retried."""
    await allow_private(sessions, tenant)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subscription = await subscribe(sessions, tenant, f"http://127.0.0.1:{port}/hook")
    delivery = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)

    await make_deliverer(sessions, Clock()).deliver_due()

    row = await reload(sessions, delivery.id)
    assert (row.status, row.attempts, row.response_status) == ("retrying", 1, None)
    assert row.last_error.startswith("ConnectError: 127.0.0.1: ")


async def test_slow_receiver_does_not_hold_up_others(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """While one receiver has not answered, another's delivery is already recorded."""
    await allow_private(sessions, tenant)
    slow = await add_delivery(
        sessions, await subscribe(sessions, tenant, receiver.url("/hang")), next_attempt_at=EPOCH
    )
    fast = await add_delivery(
        sessions, await subscribe(sessions, tenant, receiver.url("/ok")), next_attempt_at=EPOCH
    )
    deliverer = make_deliverer(sessions, Clock(), webhook_timeout_seconds=30.0)

    run = asyncio.create_task(deliverer.deliver_due())
    for _ in range(500):
        if (await reload(sessions, fast.id)).status == "delivered":
            break
        await asyncio.sleep(0.02)
    assert (await reload(sessions, fast.id)).status == "delivered"
    assert not run.done()
    assert (await reload(sessions, slow.id)).status == "delivering"

    receiver.release.set()
    assert await run == 2
    assert (await reload(sessions, slow.id)).status == "delivered"


async def test_gives_up_after_the_attempt_limit(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """The last allowed attempt failing fails the delivery for good."""
    await allow_private(sessions, tenant)
    subscription = await subscribe(sessions, tenant, receiver.url("/down"))
    delivery = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)
    clock = Clock()
    deliverer = make_deliverer(sessions, clock, webhook_max_attempts=3)

    for _ in range(3):
        assert await deliverer.deliver_due() == 1
        clock.now = (await reload(sessions, delivery.id)).next_attempt_at

    row = await reload(sessions, delivery.id)
    assert (row.status, row.attempts, row.response_status) == ("failed", 3, 503)
    assert row.last_error == "gave up after 3 attempts: the receiver answered HTTP 503"
    clock.now += timedelta(days=1)
    assert await deliverer.deliver_due() == 0
    assert receiver.deliveries() == {str(delivery.id): 3}


async def test_loopback_is_refused_unless_the_tenant_allows_private_targets(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """Without the tenant flag nothing is sent and the delivery fails at once; with it, it goes."""
    subscription = await subscribe(sessions, tenant, receiver.url("/ok"))
    refused = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)

    await make_deliverer(sessions, Clock()).deliver_due()

    row = await reload(sessions, refused.id)
    assert (row.status, row.attempts, row.response_status) == ("failed", 1, None)
    assert row.last_error == "refused: 127.0.0.1 is refused: 127.0.0.1 is a loopback address"
    assert receiver.received == []

    await allow_private(sessions, tenant)
    allowed = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)
    await make_deliverer(sessions, Clock()).deliver_due()
    assert (await reload(sessions, allowed.id)).status == "delivered"
    assert (await reload(sessions, refused.id)).status == "failed"
    assert receiver.deliveries() == {str(allowed.id): 1}


async def test_inactive_subscription_fails_its_deliveries(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """A delivery of a deactivated subscription is not sent."""
    await allow_private(sessions, tenant)
    subscription = await subscribe(sessions, tenant, receiver.url("/ok"), is_active=False)
    delivery = await add_delivery(sessions, subscription, next_attempt_at=EPOCH)

    await make_deliverer(sessions, Clock()).deliver_due()

    row = await reload(sessions, delivery.id)
    assert (row.status, row.last_error) == ("failed", "the subscription is inactive")
    assert receiver.received == []


async def test_stalled_claim_is_taken_over_and_the_old_worker_cannot_record(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """A delivery claimed longer ago than the stall timeout is delivered by another worker;
    a recent claim is left alone; the stopped worker's late result is not written."""
    await allow_private(sessions, tenant)
    subscription = await subscribe(sessions, tenant, receiver.url("/ok"))
    stall = timedelta(seconds=300)
    old_claim = EPOCH - stall - timedelta(seconds=1)
    stalled = await add_delivery(
        sessions,
        subscription,
        next_attempt_at=EPOCH - timedelta(hours=1),
        status="delivering",
        attempts=1,
        claimed_at=old_claim,
    )
    busy = await add_delivery(
        sessions,
        subscription,
        next_attempt_at=EPOCH - timedelta(hours=1),
        status="delivering",
        attempts=1,
        claimed_at=EPOCH - timedelta(seconds=10),
    )

    assert await make_deliverer(sessions, Clock(), webhook_stall_seconds=300).deliver_due() == 1

    row = await reload(sessions, stalled.id)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert (await reload(sessions, busy.id)).status == "delivering"
    assert receiver.deliveries() == {str(stalled.id): 1}

    late = webhook_store.DeliveryClaim(
        id=stalled.id,
        tenant_id=tenant.id,
        subscription_id=subscription.id,
        event_id=stalled.event_id,
        event_type=stalled.event_type,
        payload=stalled.payload,
        attempts=1,
        attempt_log=[],
        claimed_at=old_claim,
    )
    policy = RetryPolicy(3, timedelta(seconds=1), timedelta(seconds=2))
    failure = settle(
        AttemptResult(error="boom"), attempts=1, previous_log=[], now=EPOCH, policy=policy
    )
    async with sessions() as session, session.begin():
        assert not await webhook_store.record(session, late, failure, now=EPOCH)
    assert (await reload(sessions, stalled.id)).status == "delivered"


async def test_two_deliverers_deliver_each_delivery_once(
    sessions: Sessions, tenant: Tenant, receiver: Receiver
) -> None:
    """Deliverers running side by side share the due deliveries without overlap."""
    await allow_private(sessions, tenant)
    subscription = await subscribe(sessions, tenant, receiver.url("/ok"))
    deliveries = [
        await add_delivery(sessions, subscription, next_attempt_at=EPOCH) for _ in range(15)
    ]
    first = make_deliverer(sessions, Clock(), webhook_batch=4, webhook_concurrency=2)
    second = make_deliverer(sessions, Clock(), webhook_batch=4, webhook_concurrency=2)

    claimed: list[int] = []
    while True:
        done = await asyncio.gather(first.deliver_due(), second.deliver_due())
        claimed.extend(done)
        if not any(done):
            break

    assert sum(claimed) == 15
    assert receiver.deliveries() == {str(delivery.id): 1 for delivery in deliveries}
    for delivery in deliveries:
        assert (await reload(sessions, delivery.id)).status == "delivered"


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    """The delay is uniform below min(cap, base * 2**(attempt-1))."""
    policy = RetryPolicy(8, timedelta(seconds=30), timedelta(seconds=3600))
    assert [policy.delay(n, lambda: 1.0).total_seconds() for n in (1, 2, 3, 8, 20)] == [
        30,
        60,
        120,
        3600,
        3600,
    ]
    assert policy.delay(5, lambda: 0.0) == timedelta(0)


def test_attempt_log_keeps_the_last_twenty() -> None:
    """Each attempt is logged; older entries beyond twenty are dropped."""
    policy = RetryPolicy(50, timedelta(seconds=30), timedelta(seconds=3600))
    previous = [{"at": f"old-{n}", "status": 500, "duration_ms": 1} for n in range(20)]
    settled = settle(
        AttemptResult(response_status=204, duration_ms=7),
        attempts=21,
        previous_log=previous,
        now=EPOCH,
        policy=policy,
    )
    assert len(settled.attempt_log) == 20
    assert settled.attempt_log[0]["at"] == "old-1"
    assert settled.attempt_log[-1] == {"at": EPOCH.isoformat(), "status": 204, "duration_ms": 7}
