"""`postdesk keys rotate` as a process: the database's sealed secrets and the blobs move to
the new key; the old key may then leave the ring for everything but thread tokens."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from postdesk_cli.demo import seed_demo
from postdesk_runtime import EncryptedBlobStore, LocalBlobStore, make_engine, make_sessions
from postdesk_runtime.imap_credentials import open_imap_password, seal_imap_password
from postdesk_runtime.keyring import Keyring
from postdesk_runtime.webhook_signing import open_secret, seal_secret
from postdesk_schema import EmailAccount, ImapMailbox, SmtpServer, WebhookSubscription
from postdesk_smtp.settings import open_password, seal_password
from postdesk_testing import run_postdesk
from sqlmodel import col, select

pytestmark = pytest.mark.integration


async def test_rotate_reseals_database_secrets_and_blobs(
    private_database_url: str, tmp_path: Path
) -> None:
    old_setting, new_setting = Keyring.generate_setting("old"), Keyring.generate_setting("new")
    old, new = Keyring.from_setting(old_setting), Keyring.from_setting(new_setting)
    engine = make_engine(private_database_url, pool_size=1)
    sessions = make_sessions(engine)
    info = await seed_demo(sessions)
    async with sessions() as session, session.begin():
        account = (
            await session.scalars(
                select(EmailAccount).where(col(EmailAccount.tenant_id) == info.tenant_id)
            )
        ).first()
        assert account is not None
        session.add_all(
            [
                ImapMailbox(
                    tenant_id=info.tenant_id,
                    account_id=account.id,
                    host="imap.acme.example",
                    username="cs",
                    password_ciphertext=seal_imap_password(old, "imap-pass"),
                ),
                SmtpServer(
                    tenant_id=info.tenant_id,
                    account_id=account.id,
                    host="smtp.acme.example",
                    username="cs",
                    password_sealed=seal_password(old, "smtp-pass"),
                ),
                WebhookSubscription(
                    tenant_id=info.tenant_id,
                    url="https://hooks.acme.example/postdesk",
                    secret_sealed=seal_secret(old, "hook-secret"),
                ),
            ]
        )
    blob_ref = await EncryptedBlobStore(LocalBlobStore(tmp_path), old).put(b"raw mail")

    async def rotate() -> tuple[int, str, str]:
        ran = await run_postdesk(
            "keys",
            "rotate",
            env={
                "DATABASE_URL": private_database_url,
                "BLOB_DIR": str(tmp_path),
                "ENCRYPTION_KEYS": f"{new_setting},{old_setting}",
            },
        )
        return ran.status, ran.stdout, ran.stderr

    status, out, err = await rotate()
    assert status == 0, err
    assert "imap_mailboxes.password_ciphertext under key 'new': 1 re-sealed" in out
    assert "smtp_servers.password_sealed under key 'new': 1 re-sealed" in out
    assert "webhook_subscriptions.secret_sealed under key 'new': 1 re-sealed" in out
    assert "blobs under key 'new': 1 re-encrypted" in out

    async with sessions() as session:
        mailbox = (await session.scalars(select(ImapMailbox))).one()
        server = (
            await session.scalars(select(SmtpServer).where(col(SmtpServer.host).like("smtp.%")))
        ).one()
        hook = (await session.scalars(select(WebhookSubscription))).one()
    only_new = Keyring.from_setting(new_setting)
    assert open_imap_password(only_new, mailbox.password_ciphertext) == "imap-pass"
    assert open_password(only_new, server.password_sealed) == "smtp-pass"
    assert open_secret(only_new, hook.secret_sealed) == "hook-secret"
    assert new.key_id_of(base64.b64decode(hook.secret_sealed)) == "new"
    assert await EncryptedBlobStore(LocalBlobStore(tmp_path), only_new).get(blob_ref) == (
        b"raw mail"
    )

    status, again, _ = await rotate()
    assert status == 0
    assert (
        "webhook_subscriptions.secret_sealed under key 'new': 0 re-sealed, 1 already current"
        in again
    )
    await engine.dispose()


async def test_a_key_missing_from_the_ring_stops_with_a_reason(
    private_database_url: str, tmp_path: Path
) -> None:
    stranger = Keyring.from_setting(Keyring.generate_setting("lost"))
    engine = make_engine(private_database_url, pool_size=1)
    sessions = make_sessions(engine)
    info = await seed_demo(sessions)
    async with sessions() as session, session.begin():
        session.add(
            WebhookSubscription(
                tenant_id=info.tenant_id,
                url="https://hooks.acme.example/x",
                secret_sealed=seal_secret(stranger, "s"),
            )
        )
    await engine.dispose()
    ran = await run_postdesk(
        "keys",
        "rotate",
        env={
            "DATABASE_URL": private_database_url,
            "BLOB_DIR": str(tmp_path),
            "ENCRYPTION_KEYS": Keyring.generate_setting("new"),
        },
    )
    assert ran.status == 1
    assert (
        "webhook_subscriptions.secret_sealed: rotation stopped: key 'lost' is not in the keyring"
        in ran.stderr
    )
