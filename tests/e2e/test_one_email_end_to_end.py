"""One email through ingest, parser, router, notifier, outbound and gateway, on the real servers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TypeVar

import httpx
import pytest
from postdesk_cli.demo import DEMO_PASSWORD, address
from postdesk_ingest.domain import signature_headers
from postdesk_schema import Message, OutboundMessage
from postdesk_testing import eventually
from sqlalchemy import select
from sqlmodel import col

from tests.e2e.conftest import WEBHOOK_SECRET, Stack, login

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WITHIN, INTERVAL = 30.0, 0.1  # the stack is six processes: poll slower, wait longer


async def non_empty(items: Awaitable[list[T]]) -> list[T] | None:
    """The awaited list, or None while it is still empty (for `eventually`)."""
    return (await items) or None


def customer_mail(
    *,
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None = None,
    extra_header: tuple[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = "Carol Customer <carol@customer.example>"
    message["To"] = address("cs")
    message["Subject"] = subject
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    if extra_header:
        message[extra_header[0]] = extra_header[1]
    message.set_content(body)
    return bytes(message)


async def post_mail(client: httpx.AsyncClient, stack: Stack, raw: bytes) -> httpx.Response:
    return await client.post(
        f"{stack.url('ingest')}/webhooks/raw",
        content=raw,
        params={"rcpt": address("cs")},
        headers={"Content-Type": "message/rfc822", **signature_headers(WEBHOOK_SECRET, raw)},
    )


async def tickets_of(
    client: httpx.AsyncClient, stack: Stack, auth: dict[str, str]
) -> list[dict[str, object]]:
    response = await client.get(f"{stack.url('gateway')}/tickets", headers=auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_email_becomes_assigned_ticket_and_reply_joins_it(stack: Stack) -> None:
    """A customer mail opens a ticket for the primary; its reply joins; duplicates add nothing."""
    first_id = f"{uuid.uuid4()}@customer.example"
    first = customer_mail(
        subject="Kettle never arrived", body="Order #1042 is late.", message_id=first_id
    )
    async with httpx.AsyncClient(timeout=10) as client:
        accepted = await post_mail(client, stack, first)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["status"] == "accepted"

        john = await login(client, stack.url("gateway"), address("john"), DEMO_PASSWORD)

        async def kettle_tickets() -> list[dict[str, object]] | None:
            # other tests of the stack open tickets of their own in the same mailbox
            items = await tickets_of(client, stack, john)
            return [t for t in items if t["subject"] == "Kettle never arrived"] or None

        tickets = await eventually(kettle_tickets, within=WITHIN, interval=INTERVAL)
        assert len(tickets) == 1
        ticket_id = tickets[0]["id"]
        me = (await client.get(f"{stack.url('gateway')}/me", headers=john)).json()
        assert tickets[0]["assignee_id"] == me["id"]
        assert tickets[0]["subject"] == "Kettle never arrived"

        again = await post_mail(client, stack, first)
        assert again.status_code == 202
        assert again.json()["status"] == "duplicate"
        resent = customer_mail(
            subject="Kettle never arrived",
            body="Order #1042 is late.",
            message_id=first_id,
            extra_header=("X-Resent-By", "a retrying relay"),
        )
        assert (await post_mail(client, stack, resent)).status_code == 202

        reply = customer_mail(
            subject="Re: Kettle never arrived",
            body="Any news?",
            message_id=f"{uuid.uuid4()}@customer.example",
            in_reply_to=first_id,
        )
        assert (await post_mail(client, stack, reply)).status_code == 202

        async def two_messages() -> dict[str, object] | None:
            detail = (
                await client.get(f"{stack.url('gateway')}/tickets/{ticket_id}", headers=john)
            ).json()
            return detail if len(detail["messages"]) >= 2 else None

        detail = await eventually(two_messages, within=WITHIN, interval=INTERVAL)
        bodies = [m["text_body"] for m in detail["messages"]]
        assert len(bodies) == 2
        assert "Order #1042 is late." in bodies[0]
        assert "Any news?" in bodies[1]
        assert [m["match_rule"] for m in detail["messages"]] == ["new-ticket", "in-reply-to"]
        subjects = [t["subject"] for t in await tickets_of(client, stack, john)]
        assert subjects.count("Kettle never arrived") == 1  # the reply joined, no new ticket

        notifications = await eventually(
            lambda: non_empty(_json_items(client, f"{stack.url('gateway')}/notifications", john)),
            within=WITHIN,
            interval=INTERVAL,
        )
        # the new ticket's assignee hears of it once, as an assignment (the reply may follow)
        assert [n["kind"] for n in notifications][-1] == "assigned"
        assert "new_ticket" not in [n["kind"] for n in notifications]

        victor = await login(client, stack.url("gateway"), address("victor"), DEMO_PASSWORD)
        assert ticket_id in [t["id"] for t in await tickets_of(client, stack, victor)]
        sara = await login(client, stack.url("gateway"), address("sara"), DEMO_PASSWORD)
        assert ticket_id in [t["id"] for t in await tickets_of(client, stack, sara)]


async def test_a_reply_is_sent_through_the_tenants_smtp_server_threaded(stack: Stack) -> None:
    """A reply from the gateway goes out through the tenant's SMTP server (the sink), answering
    the customer's mail with a signed Message-ID and the ticket's reply-token address; the
    outbound row, the sent copy and the router's message all say sent."""
    message_id = f"{uuid.uuid4()}@customer.example"
    async with httpx.AsyncClient(timeout=10) as client:
        raw = customer_mail(subject="Invoice question", body="Wrong VAT.", message_id=message_id)
        assert (await post_mail(client, stack, raw)).status_code == 202
        john = await login(client, stack.url("gateway"), address("john"), DEMO_PASSWORD)

        async def ticket() -> str | None:
            for item in await tickets_of(client, stack, john):
                if item["subject"] == "Invoice question":
                    return str(item["id"])
            return None

        ticket_id = await eventually(ticket, within=WITHIN, interval=INTERVAL)
        sent = await client.post(
            f"{stack.url('gateway')}/tickets/{ticket_id}/replies",
            json={"text": "We are checking."},
            headers=john,
        )
        assert sent.status_code == 202, sent.text
        outbound_id = uuid.UUID(sent.json()["outbound_id"])

    async def kept() -> EmailMessage | None:
        for path in stack.sent_mail.glob("*.eml"):
            mail = message_from_bytes(path.read_bytes(), policy=policy.default)
            if "We are checking." in path.read_text(errors="replace"):
                assert isinstance(mail, EmailMessage)
                return mail
        return None

    mail = await eventually(kept, within=WITHIN, interval=INTERVAL)
    assert mail["In-Reply-To"] == f"<{message_id}>"
    assert mail["To"].addresses[0].addr_spec == "carol@customer.example"
    assert mail["From"].addresses[0].addr_spec == address("cs")
    assert "[#" in mail["Subject"]
    assert mail["Message-ID"].startswith("<pd.")
    assert "+" in mail["Reply-To"].addresses[0].username

    async def sent_row() -> OutboundMessage | None:
        async with stack.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(OutboundMessage).where(col(OutboundMessage.id) == outbound_id)
                )
            ).first()
        found = OutboundMessage.model_validate(row._mapping) if row else None
        return found if found and found.status == "sent" else None

    row = await eventually(sent_row, within=WITHIN, interval=INTERVAL)
    assert row.raw_blob_ref

    async def delivered() -> str | None:
        async with stack.engine.connect() as conn:
            status = (
                await conn.execute(
                    select(col(Message.delivery_status)).where(
                        col(Message.outbound_id) == outbound_id
                    )
                )
            ).scalar_one_or_none()
        return status if status == "sent" else None

    assert await eventually(delivered, within=WITHIN, interval=INTERVAL) == "sent"


async def _json_items(
    client: httpx.AsyncClient, url: str, auth: dict[str, str]
) -> list[dict[str, object]]:
    response = await client.get(url, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    items: list[dict[str, object]] = body["items"] if isinstance(body, dict) else body
    return items
