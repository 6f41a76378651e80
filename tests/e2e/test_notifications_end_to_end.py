"""Notifications through the running services: a customer's mail and an agent's @mention
reach the right person in-app (listed and pushed live over Server-Sent Events), by email at
the mail sink after the grouping window, and as signed webhooks at a real HTTP receiver."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from postdesk_cli.demo import DEMO_PASSWORD, address
from postdesk_testing import eventually
from postdesk_testing.webhook_receiver import Receiver, running_receiver

from tests.e2e.conftest import Stack, login
from tests.e2e.test_one_email_end_to_end import (
    INTERVAL,
    WITHIN,
    customer_mail,
    post_mail,
    tickets_of,
)

pytestmark = pytest.mark.e2e


async def live_events(
    client: httpx.AsyncClient, url: str, auth: dict[str, str], into: list[dict[str, Any]]
) -> None:
    """Collect the `notification` events of one SSE stream until cancelled."""
    async with client.stream("GET", url, headers=auth, timeout=None) as response:
        assert response.status_code == 200
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event == "notification":
                into.append(json.loads(line.partition(":")[2]))


def webhook_bodies(receiver: Receiver, event_type: str) -> list[dict[str, Any]]:
    return [
        json.loads(r.body)
        for r in receiver.received
        if r.headers.get("postdesk-event-type") == event_type
    ]


async def test_a_mention_reaches_its_user_in_app_live_by_email_and_by_webhook(
    stack: Stack,
) -> None:
    gateway = stack.url("gateway")
    subject = f"Broken blender {uuid.uuid4().hex[:6]}"
    async with (
        httpx.AsyncClient(timeout=10) as client,
        running_receiver(secret="not yet known") as receiver,
    ):
        alice = await login(client, gateway, address("admin"), DEMO_PASSWORD)
        allowed = await client.put(
            f"{gateway}/admin/webhook-settings", json={"allow_private_targets": True}, headers=alice
        )
        assert allowed.status_code == 200, allowed.text
        subscribed = await client.post(
            f"{gateway}/admin/webhooks",
            json={
                "url": receiver.url("/ok"),
                "event_types": ["ticket.created", "ticket.note_added"],
            },
            headers=alice,
        )
        assert subscribed.status_code == 201, subscribed.text
        receiver.secret = subscribed.json()["secret"]

        pushed: list[dict[str, Any]] = []
        stream = asyncio.create_task(
            live_events(client, f"{gateway}/notifications/stream", alice, pushed)
        )
        try:
            raw = customer_mail(
                subject=subject,
                body="It smokes.",
                message_id=f"{uuid.uuid4()}@customer.example",
            )
            assert (await post_mail(client, stack, raw)).status_code == 202
            john = await login(client, gateway, address("john"), DEMO_PASSWORD)

            async def ticket() -> str | None:
                for item in await tickets_of(client, stack, john):
                    if item["subject"] == subject:
                        return str(item["id"])
                return None

            ticket_id = await eventually(ticket, within=WITHIN, interval=INTERVAL)
            note = await client.post(
                f"{gateway}/tickets/{ticket_id}/notes",
                json={"body": "@admin the customer says it smokes, can you look?"},
                headers=john,
            )
            assert note.status_code == 201, note.text

            async def mentioned() -> list[dict[str, Any]] | None:
                listed = await client.get(f"{gateway}/notifications", headers=alice)
                items = [n for n in listed.json()["items"] if n["kind"] == "mention"]
                return items or None

            [mention] = await eventually(mentioned, within=WITHIN, interval=INTERVAL)
            assert mention["ticket_id"] == ticket_id
            assert "John Doe" in mention["title"]

            async def pushed_mention() -> dict[str, Any] | None:
                return next((n for n in pushed if n["kind"] == "mention"), None)

            live = await eventually(pushed_mention, within=WITHIN, interval=INTERVAL)
            assert live["id"] == mention["id"]
        finally:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream

        async def mailed() -> EmailMessage | None:
            for path in stack.sent_mail.glob("*.eml"):
                mail = message_from_bytes(path.read_bytes(), policy=policy.default)
                assert isinstance(mail, EmailMessage)
                recipients = [a.addr_spec for a in mail["To"].addresses]
                if recipients == [address("admin")] and "mentioned you" in str(mail["Subject"]):
                    return mail
            return None

        mail = await eventually(mailed, within=WITHIN, interval=INTERVAL)
        assert mail["Auto-Submitted"] == "auto-generated"

        async def both_hooks() -> bool | None:
            created = [
                b
                for b in webhook_bodies(receiver, "ticket.created")
                if b["payload"]["ticket_id"] == ticket_id
            ]
            noted = [
                b
                for b in webhook_bodies(receiver, "ticket.note_added")
                if b["payload"]["ticket_id"] == ticket_id
            ]
            return True if created and noted else None

        await eventually(both_hooks, within=WITHIN, interval=INTERVAL)
        assert all(r.signature_ok for r in receiver.received)
        [noted] = [
            b
            for b in webhook_bodies(receiver, "ticket.note_added")
            if b["payload"]["ticket_id"] == ticket_id
        ]
        assert len(noted["payload"]["mentioned_user_ids"]) == 1

        # once: given time for any second copy to arrive, each thing happened once
        await asyncio.sleep(3)
        assert set(receiver.deliveries().values()) == {1}
        listed = await client.get(f"{gateway}/notifications", headers=alice)
        assert [n["kind"] for n in listed.json()["items"]].count("mention") == 1
    emails = [
        path
        for path in stack.sent_mail.glob("*.eml")
        if "mentioned you" in path.read_text(errors="replace")
        and subject in path.read_text(errors="replace")
    ]
    assert len(emails) == 1
