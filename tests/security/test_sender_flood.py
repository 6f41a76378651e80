"""One sender flooding one tenant through ingest's SMTP listener, with the pipeline
(ingest, parser, router, outbound) running as processes and ingest's per-source limit on
(`SOURCE_RATE`); the relay of test_autoreply_loops is the tenants' SMTP server.

- attack: `FLOOD` mails from mallory@flood.example to the demo tenant's auto-replying
  mailbox as fast as one SMTP client can send them, while a customer of the second tenant
  writes to it through the signed raw-mail webhook (another source);
- pass: ingest answers 451 4.7.1 (`postdesk_ingest.ratelimit`) once the source's burst is
  used up, so at most the burst and what refills meanwhile is accepted; the flooder gets
  at most one auto-reply (the per-address window); each of the other tenant's mails is
  accepted (202) and is a ticket within `PROMPT_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiosmtplib
import httpx
import pytest
import pytest_asyncio
from postdesk_cli.demo import address
from postdesk_ingest.domain import signature_headers
from postdesk_testing import eventually

from tests.faults.test_smtp_temporary_failures import B_MAILBOX
from tests.security.processes import RunningServices
from tests.security.test_autoreply_loops import (
    PROMPT_SECONDS,
    Relay,
    first_mail,
    relayed_pipeline,
    ticket_latency,
)

pytestmark = pytest.mark.e2e

A_MAILBOX = address("cs")
FLOODER = "mallory@flood.example"
FLOOD = 60
SOURCE_BURST = 10
SOURCE_RATE = f"2/s burst {SOURCE_BURST}"
RAW_SECRET = "flood-raw-secret"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def flood_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[RunningServices, Relay]]:
    async with relayed_pipeline(
        tmp_path_factory.mktemp("flood"),
        INGEST_WEBHOOK_SECRET=RAW_SECRET,
        INGEST_RATE_PER_SOURCE=SOURCE_RATE,
    ) as stack:
        yield stack


async def flood(port: int) -> list[int]:
    """The final SMTP code of each flood mail, sent one after another on one connection."""
    codes = []
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
        for number in range(FLOOD):
            mail = first_mail(FLOODER, A_MAILBOX, f"flood {number}")
            try:
                await smtp.sendmail(FLOODER, [A_MAILBOX], mail)
                codes.append(250)
            except aiosmtplib.SMTPResponseException as error:
                codes.append(error.code)
                await smtp.rset()
            except aiosmtplib.SMTPRecipientsRefused as error:
                codes.append(error.recipients[0].code)
                await smtp.rset()
    return codes


def replied_to_flooder(relay: Relay) -> Callable[[], Awaitable[bool | None]]:
    async def probe() -> bool | None:
        return True if relay.count(FLOODER) else None

    return probe


async def test_flood_is_rate_limited_and_other_tenants_are_served(
    flood_stack: tuple[RunningServices, Relay],
) -> None:
    """451 past the source's rate, one auto-reply, the other tenant served meanwhile."""
    services, relay = flood_stack
    started = time.monotonic()
    flooding = asyncio.create_task(flood(relay.ingest_port))
    waits: list[float] = []
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=10) as http:
        while not flooding.done() or not waits:
            subject = f"customer {uuid.uuid4()}"
            raw = first_mail("Dave <dave@outside.example>", B_MAILBOX, subject)
            sent = time.monotonic()
            response = await http.post(
                f"{services.url('ingest')}/webhooks/raw",
                content=raw,
                params={"rcpt": B_MAILBOX},
                headers={"Content-Type": "message/rfc822", **signature_headers(RAW_SECRET, raw)},
            )
            statuses.append(response.status_code)
            waits.append(await ticket_latency(services, subject, sent))
    codes = await flooding
    elapsed = time.monotonic() - started
    accepted = codes.count(250)
    assert set(codes) <= {250, 451}, codes
    assert codes.count(451) > 0
    assert accepted <= SOURCE_BURST + 2 * elapsed + 1, (accepted, elapsed)
    assert set(statuses) == {202}, statuses
    assert max(waits) < PROMPT_SECONDS, waits
    await eventually(replied_to_flooder(relay), within=PROMPT_SECONDS)
    await asyncio.sleep(3)  # time for any further auto-reply to arrive
    assert relay.count(FLOODER) == 1
