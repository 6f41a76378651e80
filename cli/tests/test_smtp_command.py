"""`postdesk smtp set|show|test` as a process, against the database and a real SMTP server.

The SMTP server is postdesk_testing.smtp's aiosmtpd in the test's event loop
(it serves while the test awaits the command): no TLS, AUTH PLAIN/LOGIN
allowed in the clear, recording the senders it was offered.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from postdesk_runtime import Sessions
from postdesk_runtime.settings import ServiceSettings
from postdesk_schema import SmtpServer
from postdesk_testing.smtp import smtp_server
from sqlmodel import col, select

from .tenancy import Tenancy, postdesk, seed_tenancy

pytestmark = pytest.mark.integration

PASSWORD = "s3cret pass phrase"


async def rows(sessions: Sessions, seed: Tenancy) -> list[SmtpServer]:
    async with sessions() as session:
        found = await session.scalars(
            select(SmtpServer)
            .where(col(SmtpServer.tenant_id) == seed.tenant.id)
            .order_by(col(SmtpServer.account_id).is_not(None))
        )
        return list(found.all())


async def test_set_and_show_never_print_the_password(
    database_url: str, sessions: Sessions, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seed = await seed_tenancy(sessions)
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)
    code, out, err = await postdesk(
        database_url,
        *("smtp", "set", seed.slug, "--host", "smtp.acme.example", "--username", "bob"),
        *("--password-env", "SMTP_TEST_PASSWORD", "--from-domain", "acme.example"),
    )
    assert code == 0, err
    assert f"tenant default of tenant {seed.slug} created:" in out
    assert "smtp.acme.example:587 starttls, user bob, password set" in out
    password_file = tmp_path / "password"
    password_file.write_text("other secret\n")
    code, out, err = await postdesk(
        database_url,
        *("smtp", "set", seed.slug, "--account", seed.cs.address, "--host", "127.0.0.1"),
        *("--security", "none", "--username", "carl", "--password-file", str(password_file)),
    )
    assert code == 0, err
    assert "127.0.0.1:25 none, user carl, password set" in out
    assert "unencrypted" in err  # a login over security none is worth a warning
    code, out, err = await postdesk(database_url, "smtp", "show", seed.slug)
    assert code == 0, err
    assert out.splitlines()[0] == "tenant default:"
    assert f"account {seed.cs.address}:" in out
    assert "never tested" in out
    for secret in (PASSWORD, "other secret"):
        assert secret not in out + err
    default, override = await rows(sessions, seed)
    assert (default.username, override.username) == ("bob", "carl")
    settings = ServiceSettings(database_url=database_url)
    keyring = settings.keyring()
    assert keyring.decrypt_text(default.password_sealed, purpose=b"smtp-password") == PASSWORD
    assert keyring.decrypt_text(override.password_sealed, purpose=b"smtp-password") == (
        "other secret"
    )


async def test_test_reports_success_and_records_it(
    database_url: str, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = await seed_tenancy(sessions)
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)
    async with smtp_server(users={"bob": PASSWORD}) as server:
        code, _, err = await postdesk(
            database_url,
            *("smtp", "set", seed.slug, "--host", "127.0.0.1", "--port", str(server.port)),
            *("--security", "none", "--username", "bob", "--password-env", "SMTP_TEST_PASSWORD"),
        )
        assert code == 0, err
        code, out, err = await postdesk(database_url, "smtp", "test", seed.slug)
    assert code == 0, out + err
    assert out.splitlines()[-1] == (
        f"ok: connected to 127.0.0.1:{server.port} with no TLS, logged in as bob; "
        f"sender {seed.cs.address} accepted: 250 OK"
    )
    assert server.senders == [seed.cs.address]
    [row] = await rows(sessions, seed)
    assert row.last_test_at is not None
    assert row.last_test_result.startswith("ok: connected to 127.0.0.1:")


async def test_a_failed_test_exits_1_with_stage_and_reason(
    database_url: str, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = await seed_tenancy(sessions)
    monkeypatch.setenv("SMTP_TEST_PASSWORD", "wrong")
    async with smtp_server(users={"bob": PASSWORD}) as server:
        await postdesk(
            database_url,
            *("smtp", "set", seed.slug, "--host", "127.0.0.1", "--port", str(server.port)),
            *("--security", "none", "--username", "bob", "--password-env", "SMTP_TEST_PASSWORD"),
        )
        code, out, err = await postdesk(
            database_url, "smtp", "test", seed.slug, "--account", seed.sales_account.address
        )
    assert code == 1, out + err
    assert out.splitlines()[-1].startswith("failed at auth (permanent): 535 ")
    assert server.senders == []
    [row] = await rows(sessions, seed)
    assert row.last_test_result.startswith("permanent failure at auth: 535 ")


async def test_the_account_override_and_from_are_used(
    database_url: str, sessions: Sessions
) -> None:
    seed = await seed_tenancy(sessions)
    async with smtp_server(users={}) as server:
        await postdesk(database_url, "smtp", "set", seed.slug, "--host", "smtp.postdesk.invalid")
        await postdesk(
            database_url,
            *("smtp", "set", seed.slug, "--account", seed.cs.address, "--host", "127.0.0.1"),
            *("--port", str(server.port), "--security", "none"),
        )
        sent_from = f"probe@{seed.slug}.example"
        code, out, err = await postdesk(
            database_url, "smtp", "test", seed.slug, "--account", seed.cs.address,
            "--from", sent_from,
        )  # fmt: skip
        assert code == 0, out + err
        assert "testing the account's override" in out
        assert server.senders == [sent_from]
        # the other account goes through the tenant default, whose host does not resolve
        code, out, err = await postdesk(
            database_url, "smtp", "test", seed.slug, "--account", seed.sales_account.address
        )
    assert code == 1, out + err
    assert out.splitlines()[-1].startswith(
        "failed at dns (temporary): cannot resolve smtp.postdesk.invalid"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("smtp", "show", "no-such-tenant"), "no tenant with slug"),
        (("smtp", "test", "{slug}"), "no active SMTP settings for tenant"),
        (("smtp", "set", "{slug}", "--port", "25"), "a new SMTP server needs a host"),
        (("smtp", "set", "{slug}", "--host", "a b"), "is not a host name"),
        (
            ("smtp", "set", "{slug}", "--host", "h.example", "--password-env", "NO_SUCH_VAR_X"),
            "NO_SUCH_VAR_X is not set",
        ),
        (
            ("smtp", "set", "{slug}", "--account", "nobody@nowhere.example", "--host", "h.example"),
            "no email account",
        ),
    ],
)
async def test_refusals_exit_2(
    database_url: str, sessions: Sessions, arguments: tuple[str, ...], message: str
) -> None:
    seed = await seed_tenancy(sessions)
    code, out, err = await postdesk(database_url, *(a.format(slug=seed.slug) for a in arguments))
    assert code == 2, out + err
    assert message in err
    assert await rows(sessions, seed) == []


async def test_an_override_needs_an_account_of_the_tenant(
    database_url: str, sessions: Sessions
) -> None:
    seed, other = await seed_tenancy(sessions), await seed_tenancy(sessions)
    code, out, err = await postdesk(
        database_url,
        *("smtp", "set", seed.slug, "--account", other.cs.address, "--host", "h.example"),
    )
    assert code == 2, out + err
    assert f"{other.cs.address} is not an account of tenant {seed.slug}" in err
    assert await rows(sessions, seed) == await rows(sessions, other) == []
