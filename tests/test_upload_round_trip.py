"""An upload from the gateway, attached to a new mail, composed by the outbound service.

Gateway (`Uploads` and `compose_ticket`) and outbound (`render`) share the
keyring and the encrypted blob store; the attachment part of the composed
message carries the uploaded bytes under the sanitised name. Real PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from postdesk_contracts import OutboundRequested
from postdesk_contracts.api import ComposeRequest, Recipient
from postdesk_contracts.outbound_policy import OutboundPolicy
from postdesk_gateway.compose import compose_ticket
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.settings import GatewaySettings
from postdesk_gateway.uploads import Uploads
from postdesk_outbound.render import render
from postdesk_runtime import Sessions, ThreadTokens, make_blob_store, make_engine, make_sessions
from postdesk_schema import (
    AssignmentRole,
    EmailAccount,
    EmailAssignment,
    OutboxEvent,
    Tenant,
    User,
)
from sqlmodel import col, select

pytestmark = pytest.mark.integration


async def seed_agent(sessions: Sessions) -> tuple[EmailAccount, CurrentUser]:
    suffix = uuid.uuid4().hex[:10]
    tenant = Tenant(name=f"Upload {suffix}", slug=f"upload-{suffix}")
    account = EmailAccount(tenant_id=tenant.id, address=f"cs-{suffix}@upload.example")
    user = User(
        tenant_id=tenant.id,
        email=f"ann-{suffix}@upload.example",
        password_hash="x",
        full_name="Ann",
    )
    async with sessions() as session, session.begin():
        for row in (tenant, account, user):
            session.add(row)
            await session.flush()
        session.add(
            EmailAssignment(
                tenant_id=tenant.id,
                account_id=account.id,
                user_id=user.id,
                role=AssignmentRole.PRIMARY,
                can_send=True,
            )
        )
    agent = CurrentUser(
        id=user.id,
        tenant_id=tenant.id,
        email=user.email,
        full_name=user.full_name,
        role="member",
        department_id=None,
        is_admin=False,
    )
    return account, agent


async def test_the_composed_message_carries_the_upload(database_url: str, blob_dir: Path) -> None:
    settings = GatewaySettings(database_url=database_url, blob_dir=blob_dir)
    keyring, blobs = settings.keyring(), make_blob_store(settings)
    thread_tokens = ThreadTokens.from_keyring(keyring)
    uploads = Uploads(keyring, blobs)
    engine = make_engine(database_url, pool_size=2)
    sessions = make_sessions(engine)
    try:
        account, agent = await seed_agent(sessions)
        data = b"%PDF-1.4 " + uuid.uuid4().bytes
        uploaded = await uploads.store(
            agent, filename="../Q3 report\r\n.pdf", content_type="application/pdf", data=data
        )
        async with sessions() as session:
            accepted = await compose_ticket(
                session,
                agent,
                ComposeRequest(
                    account_id=account.id,
                    to=[Recipient(name="Carol", email="carol@customer.example")],
                    subject="Your report",
                    text="Attached.",
                    attachments=[uploaded.upload_id],
                ),
                idempotency_key=None,
                ip="127.0.0.1",
                wake_relay=lambda: None,
                thread_tokens=thread_tokens,
                uploads=uploads,
            )
        async with sessions() as session:
            [body] = (
                await session.scalars(
                    select(OutboxEvent.body).where(
                        col(OutboxEvent.routing_key) == "outbound.requested",
                        col(OutboxEvent.body).contains(str(accepted.outbound_id)),
                    )
                )
            ).all()
            request = OutboundRequested.model_validate(json.loads(body)["payload"])
            rendered = await render(
                session,
                blobs,
                request,
                tenant_id=agent.tenant_id,
                tokens=thread_tokens,
                policy=OutboundPolicy(),
            )
    finally:
        await engine.dispose()
    [part] = list(rendered.message.iter_attachments())
    assert part.get_filename() == "Q3 report.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == data
