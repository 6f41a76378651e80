"""render: a request and the database (account, policy, ticket, signatures) and blob store."""

from __future__ import annotations

import email
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from postdesk_contracts import Address, Attachment, OutboundRequested
from postdesk_contracts.addressing import outbound_message_id
from postdesk_outbound.policy import usable_policy
from postdesk_outbound.render import Rendered, render
from postdesk_outbound.thread_index import conversation_guid
from postdesk_parser.thread_keys import decode_thread_index
from postdesk_runtime import BlobStore, Sessions, ThreadTokens
from postdesk_runtime.blobstore import LocalBlobStore
from postdesk_schema import EmailAccount, OutboundMessage, Tenant, Ticket, User

pytestmark = pytest.mark.integration

TOKENS = ThreadTokens([b"render-test-key-" * 2])
DATE = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
STARTED = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Seed:
    tenant: Tenant
    account: EmailAccount
    agent: User
    unsigned_agent: User
    ticket: Ticket


async def seed(sessions: Sessions, *, outbound: dict[str, Any] | None = None) -> Seed:
    """A tenant with a signed account, two agents (one with a signature) and a ticket."""
    suffix = uuid.uuid4().hex[:10]
    settings = {"outbound": outbound} if outbound is not None else {}
    tenant = Tenant(name=f"Acme {suffix}", slug=f"acme-{suffix}", settings=settings)
    account = EmailAccount(
        tenant_id=tenant.id,
        address=f"cs-{suffix}@acme.example",
        display_name="Acme Support",
        signature="Acme Support team",
    )
    agent = User(
        tenant_id=tenant.id,
        email=f"dana-{suffix}@acme.example",
        password_hash="x",
        full_name="Dana",
        email_signature="Dana Agent\nAcme Support",
    )
    unsigned_agent = User(
        tenant_id=tenant.id, email=f"eve-{suffix}@acme.example", password_hash="x", full_name="Eve"
    )
    ticket = Ticket(
        tenant_id=tenant.id,
        number=4711,
        account_id=account.id,
        subject="AW: Drucker brennt",
        customer_email="carol@customer.example",
        created_at=STARTED,
    )
    async with sessions() as session, session.begin():
        session.add(tenant)
        await session.flush()
        session.add_all([account, agent, unsigned_agent])
        await session.flush()
        session.add(ticket)
    return Seed(tenant, account, agent, unsigned_agent, ticket)


def make_request(s: Seed, **overrides: Any) -> OutboundRequested:
    """A reply on the seeded ticket with a signed Message-ID, as the gateway requests it."""
    outbound_id = uuid.uuid4()
    fields: dict[str, Any] = {
        "outbound_id": outbound_id,
        "message_id": TOKENS.message_id(s.ticket.id, str(outbound_id), "acme.example"),
        "account_id": s.account.id,
        "ticket_id": s.ticket.id,
        "kind": "reply",
        "to": [Address(name="Carol", email="carol@customer.example")],
        "subject": "Re: Drucker brennt",
        "text": "Please unplug it.",
        "in_reply_to": "first@customer.example",
        "references": ["first@customer.example"],
        "requested_by": s.agent.id,
    }
    fields.update(overrides)
    return OutboundRequested(**fields)


async def rendered(
    sessions: Sessions, blobs: BlobStore, s: Seed, request: OutboundRequested, **kwargs: Any
) -> tuple[Rendered, EmailMessage]:
    async with sessions() as session:
        result = await render(
            session,
            blobs,
            request,
            tenant_id=s.tenant.id,
            tokens=TOKENS,
            policy=usable_policy(s.tenant.settings)[0],  # as the sender reads it
            date=DATE,
            **kwargs,
        )
    parsed = email.message_from_bytes(result.message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return result, parsed


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return LocalBlobStore(tmp_path)


async def test_a_reply_from_the_account_with_token_reply_to_and_signed_id(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """The default policy: Reply-To is the ticket's token address, the subject is tagged,
    the Message-ID is signed for the ticket, the envelope names every recipient."""
    s = await seed(sessions)
    request = make_request(s, bcc=[Address(email="audit@acme.example")])
    result, message = await rendered(sessions, blobs, s, request)

    assert message["From"] == f"Acme Support <{s.account.address}>"
    token_address = TOKENS.reply_address(s.ticket.id, s.account.address)
    assert message["Reply-To"] == f"Acme Support <{token_address}>"
    assert message["Subject"] == "Re: Drucker brennt [#4711]"
    assert message["Thread-Topic"] == "Drucker brennt"
    assert TOKENS.ticket_of_message_id(result.message_id) == s.ticket.id
    assert result.message_id.endswith("@acme.example")
    assert message["Message-ID"] == f"<{result.message_id}>"
    assert result.envelope_from == s.account.address
    assert result.recipients == ["carol@customer.example", "audit@acme.example"]
    assert "audit@acme.example" not in str(message)


async def test_account_reply_to_and_no_tag_by_policy(sessions: Sessions, blobs: BlobStore) -> None:
    s = await seed(sessions, outbound={"reply_to": "account", "subject_tag": False})
    _, message = await rendered(sessions, blobs, s, make_request(s))
    assert message["Reply-To"] == f"Acme Support <{s.account.address}>"
    assert message["Subject"] == "Re: Drucker brennt"


async def test_the_requests_own_reply_to_and_message_id_win(
    sessions: Sessions, blobs: BlobStore
) -> None:
    s = await seed(sessions)
    request = make_request(
        s,
        reply_to=[Address(name="Sales", email="sales@acme.example")],
        message_id="given.1@acme.example",
    )
    result, message = await rendered(sessions, blobs, s, request)
    assert message["Reply-To"] == "Sales <sales@acme.example>"
    assert result.message_id == "given.1@acme.example"
    assert message["Message-ID"] == "<given.1@acme.example>"


async def test_a_request_without_message_id_gets_the_one_the_router_stores(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """The router stores `outbound_message_id` for such a request: the sent mail must carry
    the same id, or answers to it would not thread."""
    s = await seed(sessions)
    request = make_request(s, message_id=None)
    result, message = await rendered(sessions, blobs, s, request)
    assert result.message_id == outbound_message_id(request.outbound_id, "acme.example")
    assert message["Message-ID"] == f"<{result.message_id}>"


async def test_mail_outside_a_ticket(sessions: Sessions, blobs: BlobStore) -> None:
    """No ticket: the account's address as Reply-To, an unsigned id, no tag or Thread-Index."""
    s = await seed(sessions)
    request = make_request(
        s, ticket_id=None, message_id=None, in_reply_to=None, references=[], kind="compose"
    )
    result, message = await rendered(sessions, blobs, s, request)
    assert result.message_id == f"{request.outbound_id.hex}@acme.example"
    assert message["Reply-To"] == f"Acme Support <{s.account.address}>"
    assert message["Subject"] == "Re: Drucker brennt"
    assert message["Thread-Index"] is None


async def test_the_users_signature_else_the_accounts(sessions: Sessions, blobs: BlobStore) -> None:
    s = await seed(sessions)
    _, own = await rendered(sessions, blobs, s, make_request(s))
    assert text_of(own) == "Please unplug it.\n\n-- \nDana Agent\nAcme Support\n"
    _, fallback = await rendered(
        sessions, blobs, s, make_request(s, requested_by=s.unsigned_agent.id)
    )
    assert text_of(fallback) == "Please unplug it.\n\n-- \nAcme Support team\n"
    _, nobody = await rendered(sessions, blobs, s, make_request(s, requested_by=None))
    assert text_of(nobody).endswith("-- \nAcme Support team\n")


async def test_another_tenants_user_signature_is_not_used(
    sessions: Sessions, blobs: BlobStore
) -> None:
    s, other = await seed(sessions), await seed(sessions)
    _, message = await rendered(sessions, blobs, s, make_request(s, requested_by=other.agent.id))
    assert text_of(message).endswith("-- \nAcme Support team\n")


async def test_auto_replies_get_no_second_signature(sessions: Sessions, blobs: BlobStore) -> None:
    s = await seed(sessions)
    request = make_request(s, kind="auto_reply", auto_submitted="auto-replied", requested_by=None)
    _, message = await rendered(sessions, blobs, s, request)
    assert text_of(message) == "Please unplug it.\n"
    assert message["Auto-Submitted"] == "auto-replied"


async def test_attachments_come_from_the_blob_store(sessions: Sessions, blobs: BlobStore) -> None:
    s = await seed(sessions)
    data = b"%PDF-1.7 " + uuid.uuid4().bytes * 100
    ref = await blobs.put(data)
    attachment = Attachment(
        filename="Angebot.pdf", content_type="application/pdf", size=len(data), blob_ref=ref
    )
    _, message = await rendered(
        sessions, blobs, s, make_request(s, attachments=[attachment], html="<p>Angebot</p>")
    )
    [found] = list(message.iter_attachments())
    assert found.get_filename() == "Angebot.pdf"
    assert found.get_payload(decode=True) == data


async def test_a_missing_attachment_is_a_permanent_error(
    sessions: Sessions, blobs: BlobStore
) -> None:
    s = await seed(sessions)
    attachment = Attachment(
        filename="gone.pdf", content_type="application/pdf", size=1, blob_ref="sha256:" + "ab" * 32
    )
    with pytest.raises(ValueError, match=r"gone\.pdf"):
        await rendered(sessions, blobs, s, make_request(s, attachments=[attachment]))


async def test_thread_index_counts_our_earlier_messages(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """Earlier sent (and in-flight) messages deepen it; cancelled ones and later ones do not."""
    s = await seed(sessions)
    this = make_request(s)

    def row(status: str, created_at: datetime, outbound_id: uuid.UUID | None = None) -> Any:
        return OutboundMessage(
            id=outbound_id or uuid.uuid4(),
            tenant_id=s.tenant.id,
            account_id=s.account.id,
            ticket_id=s.ticket.id,
            kind="reply",
            status=status,
            created_at=created_at,
            updated_at=created_at,
        )

    async with sessions() as session, session.begin():
        session.add_all(
            [
                row("sent", STARTED + timedelta(hours=1)),
                row("retrying", STARTED + timedelta(hours=2)),
                row("cancelled", STARTED + timedelta(hours=3)),
                row("scheduled", STARTED + timedelta(hours=4), this.outbound_id),
                row("sent", STARTED + timedelta(hours=5)),
            ]
        )
    _, message = await rendered(sessions, blobs, s, this)
    index = decode_thread_index(str(message["Thread-Index"]))
    assert index is not None
    assert index.guid == conversation_guid(s.ticket.id)
    assert index.replies == 3  # two earlier messages, and this one answers the customer


async def test_unknown_account_or_ticket_is_a_permanent_error(
    sessions: Sessions, blobs: BlobStore
) -> None:
    s, other = await seed(sessions), await seed(sessions)
    with pytest.raises(ValueError, match="no account"):
        await rendered(sessions, blobs, s, make_request(s, account_id=other.account.id))
    with pytest.raises(ValueError, match="no ticket"):
        await rendered(sessions, blobs, s, make_request(s, ticket_id=other.ticket.id))


async def test_unusable_policy_settings_fall_back_to_the_defaults(
    sessions: Sessions, blobs: BlobStore
) -> None:
    s = await seed(sessions, outbound={"reply_to": "nonsense"})
    _, message = await rendered(sessions, blobs, s, make_request(s))
    assert message["Subject"] == "Re: Drucker brennt [#4711]"
    assert "+" in str(message["Reply-To"])


async def test_header_injection_through_the_account_is_refused(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """A display name stored with a line break cannot start a header of its own."""
    s = await seed(sessions)
    async with sessions() as session, session.begin():
        account = await session.get(EmailAccount, s.account.id)
        assert account is not None
        account.display_name = "Acme\r\nBcc: victim@example.com"
    with pytest.raises(ValueError, match="control character"):
        await rendered(sessions, blobs, s, make_request(s))
