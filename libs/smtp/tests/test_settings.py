"""SMTP settings on the real database: which row a mail goes through, and sealed passwords."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from postdesk_runtime import Sessions
from postdesk_runtime.keyring import Keyring, KeyringError
from postdesk_schema import EmailAccount, SmtpServer
from postdesk_smtp.settings import (
    PASSWORD_PURPOSE,
    ServerChanges,
    SmtpSettingsError,
    find_server,
    load_target,
    open_password,
    probe_sender,
    record_test,
    save_server,
)
from sqlalchemy import text

from .factories import Seed, seed_account

pytestmark = pytest.mark.integration

KEYRING = Keyring([("smtp-test", os.urandom(32))])
PASSWORD = "correct horse battery staple"


async def save(
    sessions: Sessions, seed: Seed, account_id: uuid.UUID | None = None, **changes: Any
) -> SmtpServer:
    async with sessions() as session, session.begin():
        server, _ = await save_server(
            session,
            KEYRING,
            tenant_id=seed.tenant.id,
            account_id=account_id,
            changes=ServerChanges(**changes),
        )
        return server


async def target_host(sessions: Sessions, seed: Seed, account_id: uuid.UUID) -> str | None:
    async with sessions() as session:
        target = await load_target(
            session, KEYRING, tenant_id=seed.tenant.id, account_id=account_id
        )
    return None if target is None else target.host


async def second_account(sessions: Sessions, seed: Seed) -> EmailAccount:
    account = EmailAccount(
        tenant_id=seed.tenant.id, address=f"sales-{uuid.uuid4().hex[:10]}@acme.example"
    )
    async with sessions() as session, session.begin():
        session.add(account)
    return account


class TestPrecedence:
    async def test_without_settings_there_is_no_target(self, sessions: Sessions) -> None:
        seed = await seed_account(sessions)
        assert await target_host(sessions, seed, seed.account.id) is None

    async def test_the_account_override_wins_over_the_tenant_default(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_account(sessions)
        other = await second_account(sessions, seed)
        await save(sessions, seed, host="smtp.tenant.example")
        await save(sessions, seed, seed.account.id, host="smtp.account.example")
        assert await target_host(sessions, seed, seed.account.id) == "smtp.account.example"
        assert await target_host(sessions, seed, other.id) == "smtp.tenant.example"

    async def test_inactive_rows_are_ignored(self, sessions: Sessions) -> None:
        seed = await seed_account(sessions)
        await save(sessions, seed, host="smtp.tenant.example")
        await save(sessions, seed, seed.account.id, host="smtp.account.example", is_active=False)
        assert await target_host(sessions, seed, seed.account.id) == "smtp.tenant.example"
        await save(sessions, seed, is_active=False)
        assert await target_host(sessions, seed, seed.account.id) is None
        await save(sessions, seed, seed.account.id, is_active=True)
        assert await target_host(sessions, seed, seed.account.id) == "smtp.account.example"

    async def test_another_tenants_settings_never_apply(self, sessions: Sessions) -> None:
        seed, stranger = await seed_account(sessions), await seed_account(sessions)
        await save(sessions, stranger, host="smtp.stranger.example")
        await save(sessions, stranger, stranger.account.id, host="smtp.stranger-cs.example")
        assert await target_host(sessions, seed, seed.account.id) is None
        # an account id of another tenant does not reach its override either
        assert await target_host(sessions, seed, stranger.account.id) is None

    async def test_an_override_needs_an_account_of_the_tenant(self, sessions: Sessions) -> None:
        seed, stranger = await seed_account(sessions), await seed_account(sessions)
        with pytest.raises(SmtpSettingsError, match="not one of the tenant's"):
            await save(sessions, seed, stranger.account.id, host="smtp.example.com")


class TestPassword:
    async def test_the_password_is_sealed_in_the_database_and_opened_for_sending(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_account(sessions)
        server = await save(
            sessions, seed, host="smtp.example.com", username="bob", password=PASSWORD
        )
        async with sessions() as session:
            stored = (
                await session.execute(
                    text("SELECT password_sealed FROM smtp_servers WHERE id = :id"),
                    {"id": server.id},
                )
            ).scalar_one()
            target = await load_target(
                session, KEYRING, tenant_id=seed.tenant.id, account_id=seed.account.id
            )
        assert stored
        assert PASSWORD not in stored
        assert "horse" not in stored
        assert open_password(KEYRING, stored) == PASSWORD
        with pytest.raises(KeyringError):  # bound to its purpose
            KEYRING.decrypt_text(stored, purpose=b"imap-password")
        assert PASSWORD_PURPOSE == b"smtp-password"
        assert target is not None
        assert (target.username, target.password) == ("bob", PASSWORD)

    async def test_no_password_is_stored_empty_and_kept_when_not_given(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_account(sessions)
        assert (await save(sessions, seed, host="smtp.example.com")).password_sealed == ""
        await save(sessions, seed, password=PASSWORD)
        changed = await save(sessions, seed, host="smtp2.example.com")
        assert open_password(KEYRING, changed.password_sealed) == PASSWORD


class TestSaving:
    async def test_defaults_and_partial_changes(self, sessions: Sessions) -> None:
        seed = await seed_account(sessions)
        created = await save(sessions, seed, host="smtp.example.com")
        assert (created.port, created.security, created.timeout_seconds) == (587, "starttls", 30)
        implicit = await save(sessions, seed, security="tls")
        assert (implicit.host, implicit.port) == ("smtp.example.com", 465)  # the new default
        custom = await save(sessions, seed, port=2465, from_domain="Mail.Acme.Example")
        assert (custom.port, custom.security, custom.from_domain) == (
            2465,
            "tls",
            "mail.acme.example",
        )
        assert created.id == custom.id

    async def test_a_new_connection_clears_the_last_test(self, sessions: Sessions) -> None:
        seed = await seed_account(sessions)
        server = await save(sessions, seed, host="smtp.example.com")
        at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        async with sessions() as session, session.begin():
            await record_test(session, server.id, "ok: 250 OK", at=at)
        kept = await save(sessions, seed, from_domain="acme.example")  # not the connection
        assert (kept.last_test_at, kept.last_test_result) == (at, "ok: 250 OK")
        cleared = await save(sessions, seed, username="alice")
        assert (cleared.last_test_at, cleared.last_test_result) == (None, "")

    @pytest.mark.parametrize(
        "changes",
        [
            {"host": "smtp example.com"},
            {"host": "smtp.example.com", "port": 70000},
            {"host": "smtp.example.com", "security": "ssl"},
            {"host": "smtp.example.com", "timeout": 0.0},
            {"host": "smtp.example.com", "username": "bob\r\nRCPT TO:<x@y>"},
            {"host": "smtp.example.com", "from_domain": "not a domain"},
        ],
    )
    async def test_bad_settings_are_refused(
        self, sessions: Sessions, changes: dict[str, Any]
    ) -> None:
        seed = await seed_account(sessions)
        with pytest.raises(SmtpSettingsError):
            await save(sessions, seed, **changes)
        async with sessions() as session:
            assert await find_server(session, tenant_id=seed.tenant.id, account_id=None) is None

    async def test_the_first_save_needs_a_host(self, sessions: Sessions) -> None:
        seed = await seed_account(sessions)
        with pytest.raises(SmtpSettingsError, match="needs a host"):
            await save(sessions, seed, port=25)


class TestProbeSender:
    async def test_the_account_else_the_first_active_account_else_postmaster(
        self, sessions: Sessions
    ) -> None:
        seed = await seed_account(sessions)
        async with sessions() as session:
            for_account = await probe_sender(
                session, tenant_id=seed.tenant.id, account_id=seed.account.id
            )
            for_tenant = await probe_sender(session, tenant_id=seed.tenant.id, account_id=None)
        assert for_account == for_tenant == seed.account.address
        empty = await seed_account(sessions)
        async with sessions() as session, session.begin():
            await session.execute(
                text("UPDATE email_accounts SET is_active = false WHERE id = :id"),
                {"id": empty.account.id},
            )
        async with sessions() as session:
            assert await probe_sender(session, tenant_id=empty.tenant.id, account_id=None) is None
        await save(sessions, empty, host="smtp.example.com", from_domain="acme.example")
        async with sessions() as session:
            assert (
                await probe_sender(session, tenant_id=empty.tenant.id, account_id=None)
                == "postmaster@acme.example"
            )
