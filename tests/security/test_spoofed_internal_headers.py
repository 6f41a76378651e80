"""Inbound mail that forges what postdesk itself puts on mail, or looks like an address it
trusts, through the running pipeline (tests/security/pipeline.py).

postdesk writes no X-Postdesk-* header into mail (those names are only on its HTTP webhooks,
signed). What the router trusts on inbound mail is: reply-token addresses (`cs+TOKEN@`) and
signed Message-IDs (`pd.TOKEN.x@`) in In-Reply-To/References, stored Message-IDs, the subject
tag `[#n]`, the sender being postdesk's own mailbox (loop protection) or an active user (staff).

| attack (from a stranger unless said) | pass |
| --- | --- |
| a genuine reply token / signed Message-ID of another tenant's ticket, sent to this tenant; that tenant's customer Message-ID in In-Reply-To | a new ticket of this tenant: never attached to the other tenant's ticket |
| a token naming this tenant's ticket but signed with another key (address and Message-ID) | not a token match: a new ticket, not the named one |
| the subject tag of this tenant's ticket | a new ticket linked to it (`linked:subject-tag`), not joined |
| From: the tenant's own mailbox, or another tenant's mailbox (our own auto-replies would be) | no auto-reply is sent to it (the stranger's control mail gets one) |
| From: look-alikes of an agent: display name or encoded word holding the address, the address as a quoted local part, as a subdomain, percent hack, source route, a comment, a Cyrillic letter | stored under the real address; the mail does not count as the agent's reply (`last_agent_reply_at` stays empty; the control mail from the agent's real address sets it) |
| envelope recipients that look like the mailbox: quoted local part, subdomain, percent hack, source route, a Cyrillic letter | refused by ingest (4xx), nothing stored |
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from postdesk_cli.demo import address
from postdesk_runtime import ThreadTokens
from postdesk_runtime.db import make_sessions
from postdesk_runtime.settings import ServiceSettings
from postdesk_schema import EmailAccount, Tenant
from postdesk_testing import eventually

from tests.faults.stack import FaultStack
from tests.security.pipeline import (
    StoredMessage,
    arrived,
    messages_with,
    sent_mails,
)

pytestmark = pytest.mark.e2e

MAILBOX = address("cs")
AGENT = address("john")  # an active user of the demo tenant
STRANGER = "mallory@attacker.example"


@dataclass(frozen=True)
class Tickets:
    """One customer ticket in each tenant, and the other tenant's mailbox."""

    ours: StoredMessage
    theirs: StoredMessage
    theirs_message_id: str
    their_mailbox: str


def mail(
    marker: str,
    *,
    sender: str = STRANGER,
    to: str = MAILBOX,
    subject: str = "",
    extra: str = "",
) -> tuple[bytes, str]:
    """A mail and its Message-ID (without brackets); the marker rides in the Message-ID."""
    message_id = f"{marker}@sender.example"
    raw = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject or 'question'} {marker}\r\n"
        f"Message-ID: <{message_id}>\r\n{extra}\r\nHello, a question.\r\n"
    ).encode()
    return raw, message_id


def new_marker() -> str:
    return uuid.uuid4().hex[:16]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def delivered(
    pipeline: FaultStack, client: httpx.AsyncClient, raw: bytes, marker: str, rcpt: str = MAILBOX
) -> StoredMessage:
    response = await pipeline.post(client, raw, rcpt=rcpt)
    assert response.status_code == 202, response.text
    [message] = await eventually(arrived(pipeline, marker), within=30, interval=0.25)
    return message


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tickets(pipeline: FaultStack, client: httpx.AsyncClient) -> Tickets:
    """A second tenant with a mailbox, and a customer's ticket in each tenant."""
    their_mailbox = f"support@globex-{uuid.uuid4().hex[:8]}.example"
    async with make_sessions(pipeline.engine)() as session, session.begin():
        tenant = Tenant(name="Globex", slug=f"globex-{uuid.uuid4().hex[:8]}")
        session.add(tenant)
        await session.flush()
        session.add(EmailAccount(tenant_id=tenant.id, address=their_mailbox))
    ours_marker, theirs_marker = new_marker(), new_marker()
    ours_raw, _ = mail(ours_marker, sender="carol@customer.example")
    theirs_raw, theirs_id = mail(theirs_marker, sender="bob@customer.example", to=their_mailbox)
    ours = await delivered(pipeline, client, ours_raw, ours_marker)
    theirs = await delivered(pipeline, client, theirs_raw, theirs_marker, rcpt=their_mailbox)
    return Tickets(ours, theirs, theirs_id, their_mailbox)


def tokens() -> ThreadTokens:
    """The services' own token keys (the pipeline runs with this environment's settings)."""
    return ThreadTokens.from_keyring(ServiceSettings().keyring())


def forged_tokens() -> ThreadTokens:
    return ThreadTokens([b"not-postdesk-key-" + b"x" * 15])


async def tenant_of(pipeline: FaultStack, message: StoredMessage) -> uuid.UUID:
    """The tenant of the message's ticket."""
    async with pipeline.engine.connect() as conn:
        tenant_id: uuid.UUID = (
            await conn.execute(
                sa.text("SELECT tenant_id FROM tickets WHERE id = :id"),
                {"id": message.ticket_id},
            )
        ).scalar_one()
        return tenant_id


SPOOFS = (
    "their-reply-token",
    "their-signed-message-id",
    "their-customer-message-id",
    "forged-reply-token",
    "forged-signed-message-id",
    "subject-tag",
)


def spoof(kind: str, tickets: Tickets) -> tuple[str, str, str]:
    """(envelope recipient, subject, extra header lines) of one forgery."""
    theirs, ours = uuid.UUID(tickets.theirs.ticket_id), uuid.UUID(tickets.ours.ticket_id)
    local, domain = MAILBOX.split("@")
    if kind == "their-reply-token":
        return f"{local}+{tokens().token(theirs)}@{domain}", "", ""
    if kind == "their-signed-message-id":
        signed = tokens().message_id(theirs, "x", domain)
        return MAILBOX, "", f"In-Reply-To: <{signed}>\r\nReferences: <{signed}>\r\n"
    if kind == "their-customer-message-id":
        return MAILBOX, "", f"In-Reply-To: <{tickets.theirs_message_id}>\r\n"
    if kind == "forged-reply-token":
        return f"{local}+{forged_tokens().token(ours)}@{domain}", "", ""
    if kind == "forged-signed-message-id":
        signed = forged_tokens().message_id(ours, "x", domain)
        return MAILBOX, "", f"In-Reply-To: <{signed}>\r\n"
    assert kind == "subject-tag"
    return MAILBOX, f"Re: [#{tickets.ours.ticket_number}]", ""


@pytest.mark.parametrize("kind", SPOOFS)
async def test_forged_threading_marker_opens_a_ticket_of_its_own(
    pipeline: FaultStack, client: httpx.AsyncClient, tickets: Tickets, kind: str
) -> None:
    """A forged or foreign marker attaches the mail to no existing ticket, of either tenant."""
    rcpt, subject, extra = spoof(kind, tickets)
    marker = new_marker()
    raw, _ = mail(marker, to=rcpt, subject=subject, extra=extra)
    message = await delivered(pipeline, client, raw, marker, rcpt=rcpt)
    assert message.ticket_id not in (tickets.ours.ticket_id, tickets.theirs.ticket_id)
    assert await tenant_of(pipeline, message) == pipeline.tenant_id
    assert message.match_rule == "new-ticket" or message.match_rule.startswith("linked:")


async def test_genuine_token_of_this_tenant_does_join(
    pipeline: FaultStack, client: httpx.AsyncClient, tickets: Tickets
) -> None:
    """Control: the same mail with a genuine token of this tenant's ticket joins it."""
    local, domain = MAILBOX.split("@")
    rcpt = f"{local}+{tokens().token(uuid.UUID(tickets.ours.ticket_id))}@{domain}"
    marker = new_marker()
    raw, _ = mail(marker, to=rcpt)
    message = await delivered(pipeline, client, raw, marker, rcpt=rcpt)
    assert (message.ticket_id, message.match_rule) == (tickets.ours.ticket_id, "reply-token")


async def auto_reply_rule(pipeline: FaultStack, message: StoredMessage) -> str | None:
    async with pipeline.engine.connect() as conn:
        return (
            await conn.execute(
                sa.text(
                    "SELECT rule FROM ticket_history WHERE ticket_id = :id AND kind = 'auto_reply'"
                ),
                {"id": message.ticket_id},
            )
        ).scalar_one_or_none()


def answered(pipeline: FaultStack, recipient: str) -> bool:
    return any(
        recipient in str(message.get("To", "")).lower() for _, message in sent_mails(pipeline)
    )


@pytest.mark.parametrize("sender", ["own-mailbox", "other-tenant-mailbox", "stranger"])
async def test_mail_from_postdesk_addresses_gets_no_auto_reply(
    pipeline: FaultStack, client: httpx.AsyncClient, tickets: Tickets, sender: str
) -> None:
    """Mail claiming to come from a postdesk mailbox is not answered (a stranger is: control)."""
    address_of = {
        "own-mailbox": MAILBOX,
        "other-tenant-mailbox": tickets.their_mailbox,
        "stranger": f"stranger-{new_marker()}@customer.example",
    }[sender]
    marker = new_marker()
    raw, _ = mail(marker, sender=address_of)
    message = await delivered(pipeline, client, raw, marker)
    rule = await eventually(lambda: auto_reply_rule(pipeline, message), within=30, interval=0.25)

    async def answer_sent() -> bool | None:
        return answered(pipeline, address_of) or None

    if sender == "stranger":
        assert rule == "sent"
        assert await eventually(answer_sent, within=30, interval=0.25)
    else:
        assert rule == "suppressed"
        assert not await answer_sent()


AGENT_LOOKALIKES = {
    "display-name": (f'"{AGENT}" <{STRANGER}>', STRANGER),
    "encoded-word": (f"=?utf-8?q?{AGENT.replace('@', '=40')}?= <{STRANGER}>", STRANGER),
    "quoted-local-part": (f'"{AGENT}"@attacker.example', None),
    "subdomain": (f"{AGENT}.attacker.example", f"{AGENT}.attacker.example"),
    "percent-hack": (f"{AGENT.replace('@', '%')}@attacker.example", None),
    "source-route": (f"<@acme.example:{STRANGER}>", STRANGER),
    "comment": (f"{STRANGER} ({AGENT})", STRANGER),
    "cyrillic-e": (AGENT.replace("acme", "acm\u0435"), None),
}


async def last_agent_reply(pipeline: FaultStack, message: StoredMessage) -> object:
    async with pipeline.engine.connect() as conn:
        return (
            await conn.execute(
                sa.text("SELECT last_agent_reply_at FROM tickets WHERE id = :id"),
                {"id": message.ticket_id},
            )
        ).scalar_one()


@pytest.mark.parametrize("lookalike", AGENT_LOOKALIKES)
async def test_agent_lookalike_is_not_the_agent(
    pipeline: FaultStack, client: httpx.AsyncClient, lookalike: str
) -> None:
    """The router reads the real address, so a look-alike does not act as the agent."""
    header, expected = AGENT_LOOKALIKES[lookalike]
    marker = new_marker()
    raw, _ = mail(marker, sender=header)
    message = await delivered(pipeline, client, raw, marker)
    assert message.from_email != AGENT
    if expected is not None:
        assert message.from_email == expected
    assert await last_agent_reply(pipeline, message) is None


async def test_agent_address_counts_as_the_agent(
    pipeline: FaultStack, client: httpx.AsyncClient
) -> None:
    """Control: the agent's real address in From is taken as the agent (postdesk trusts From:
    SPF/DKIM/DMARC are the receiving MTA's job)."""
    marker = new_marker()
    raw, _ = mail(marker, sender=AGENT)
    message = await delivered(pipeline, client, raw, marker)
    assert message.from_email == AGENT
    assert await last_agent_reply(pipeline, message) is not None


MAILBOX_LOOKALIKES = {
    "quoted-local-part": f'"{MAILBOX}"@attacker.example',
    "subdomain": f"{MAILBOX}.attacker.example",
    "percent-hack": f"{MAILBOX.replace('@', '%')}@attacker.example",
    "source-route": f"@attacker.example:{MAILBOX}",
    "cyrillic-e": MAILBOX.replace("acme", "acm\u0435"),
}


@pytest.mark.parametrize("lookalike", MAILBOX_LOOKALIKES)
async def test_lookalike_envelope_recipient_is_refused(
    pipeline: FaultStack, client: httpx.AsyncClient, lookalike: str
) -> None:
    """Ingest resolves envelope recipients exactly: a look-alike of the mailbox is unknown."""
    marker = new_marker()
    raw, _ = mail(marker, to=MAILBOX_LOOKALIKES[lookalike])
    response = await pipeline.post(client, raw, rcpt=MAILBOX_LOOKALIKES[lookalike])
    assert 400 <= response.status_code < 500, response.text
    assert await messages_with(pipeline, marker) == []
