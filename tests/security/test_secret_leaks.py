"""Tenant mail passwords stay sealed, and client limits hold under a spoofed
X-Forwarded-For, against the gateway, ingest, outbound and the CLI as real processes.

Secrets:
- attack: a tenant's SMTP password (set with `postdesk smtp set`, the only way in) and
  IMAP password (set through the gateway's API) are unique markers; then every failure
  that involves them: the gateway's SMTP test against a closed port and against a server
  that refuses the login, the CLI's `smtp set` and `smtp test` (`smtp show` is checked
  in cli/tests/test_smtp_command.py), outbound sending an agent's new mail through that
  server, ingest's IMAP poller logging in to a server that refuses it, and a rejected
  API request carrying the password;
- pass: neither marker (nor its base64, as SMTP AUTH and IMAP AUTHENTICATE carry it)
  appears in any line the processes logged at DEBUG, in any CLI output, nor in any API
  answer (accounts, IMAP mailboxes, the SMTP test results, the audit and processing logs,
  the analytics CSV export, the error answers). The SMTP server and the IMAP server did
  receive the password, so the failures did involve it.
- CSV formula injection: the analytics CSV is the only export, and its cells are names
  of users, departments and accounts (never mail content);
  services/gateway/tests/test_analytics.py covers it through the API.

X-Forwarded-For:
- attack: failed logins, and requests to ingest's raw-mail webhook, from one client on
  loopback, each with another spoofed X-Forwarded-For;
- pass: the gateway's per-address login throttle answers 429 once
  LOGIN_IP_MAX_FAILURES are used up, and ingest's per-source limit 429 once its burst
  is, whatever the header says. (uvicorn trusted forwarded headers from 127.0.0.1 by
  default; the services now trust them only from FORWARDED_ALLOW_IPS, empty by default.)
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from postdesk_cli.demo import DEMO_SLUG, address
from postdesk_schema import SmtpServer, Tenant
from postdesk_testing.smtp import SmtpTestServer, silent_server, smtp_server
from sqlalchemy import update
from sqlmodel import col

from tests.security.processes import RunningServices, running_services

pytestmark = pytest.mark.e2e

SMTP_USER = "leak-probe"
SMTP_MARKER = f"smtp-secret-{uuid.uuid4().hex}"
IMAP_MARKER = f"imap-secret-{uuid.uuid4().hex}"
LOGIN_IP_MAX_FAILURES = 3
SOURCE_BURST = 3


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def services(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningServices]:
    async with running_services(
        ("gateway", "ingest", "outbound"),
        tmp_path_factory.mktemp("leaks"),
        INGEST_WEBHOOK_SECRET="leaks-raw-secret",
        INGEST_RATE_PER_SOURCE=f"0.01/s burst {SOURCE_BURST}",
        INGEST_RATE_PER_TENANT="off",
        INGEST_IMAP_CLAIM_INTERVAL_SECONDS="0.5",
        INGEST_IMAP_BACKOFF_INITIAL_SECONDS="0.5",
        LOGIN_IP_MAX_FAILURES=str(LOGIN_IP_MAX_FAILURES),
    ) as running:
        yield running


def forms_of(secret: str) -> list[str]:
    """The secret and the encodings an AUTH exchange would put it in."""
    plain = f"\0{SMTP_USER}\0{secret}".encode()
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(plain).decode(),
    ]


def postdesk_cli(services: RunningServices, *args: str) -> str:
    """`postdesk *args` against the stack's database; its output (both streams)."""
    cli = Path(sys.executable).parent / "postdesk"
    env = {
        **os.environ,
        **services.supervisor.env,
        "SMTP_PASSWORD_VAR": SMTP_MARKER,
    }
    done = subprocess.run([str(cli), *args], env=env, capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


@dataclass
class RefusingImapServer:
    """An IMAP server that refuses every login and remembers the lines it was sent."""

    port: int = 0
    lines: list[bytes] = field(default_factory=list)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
        await writer.drain()
        while line := await reader.readline():
            self.lines.append(line)
            tag, _, command = line.decode("latin-1").partition(" ")
            verb = command.split(" ", 1)[0].strip().upper()
            if verb == "CAPABILITY":
                writer.write(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
            elif verb == "LOGOUT":
                writer.write(f"* BYE\r\n{tag} OK bye\r\n".encode())
                await writer.drain()
                break
            else:
                writer.write(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n".encode())
            await writer.drain()
        writer.close()

    def logins(self) -> int:
        return sum(1 for line in self.lines if IMAP_MARKER.encode() in line)


@pytest_asyncio.fixture(loop_scope="session")
async def imap_server() -> AsyncIterator[RefusingImapServer]:
    state = RefusingImapServer()
    server = await asyncio.start_server(state.session, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state
        server.close()


async def answers(
    http: httpx.AsyncClient, services: RunningServices, headers: dict[str, str]
) -> list[str]:
    """Every API answer that could carry a tenant's mail settings or their history."""
    gateway = services.url("gateway")
    paths = [
        "/admin/accounts",
        "/admin/imap-mailboxes",
        "/admin/audit-log",
        "/admin/processing-logs",
        "/analytics/me/export.csv",
    ]
    texts = []
    for path in paths:
        response = await http.get(gateway + path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        texts.append(response.text)
    return texts


async def send_through(
    http: httpx.AsyncClient,
    services: RunningServices,
    admin: dict[str, str],
    server: SmtpTestServer,
) -> None:
    """A new mail from cs@ (the admin may send from any mailbox): outbound logs in to
    `server` with the password, refused, a permanent failure. The two SMTP tests logged in
    before it."""
    async with services.engine.begin() as conn:
        await conn.execute(
            update(Tenant)
            .where(col(Tenant.id) == services.demo.tenant_id)
            .values(settings={"outbound": {"undo_seconds": 1}})
        )
    composed = await http.post(
        f"{services.url('gateway')}/tickets",
        json={
            "account_id": await account_id(http, services, admin, address("cs")),
            "to": [{"email": "customer@example.test"}],
            "subject": "Your order",
            "text": "It ships today.",
        },
        headers=admin,
    )
    assert composed.status_code == 201, composed.text
    await wait_for(lambda: len(server.auth_attempts) >= 3, 30, "outbound logs in")
    assert not [login for _, login, ok in server.auth_attempts if ok or login != SMTP_USER]


async def account_id(
    http: httpx.AsyncClient, services: RunningServices, admin: dict[str, str], mailbox: str
) -> str:
    listed = await http.get(f"{services.url('gateway')}/admin/accounts", headers=admin)
    return str(next(item["id"] for item in listed.json()["items"] if item["address"] == mailbox))


async def wait_for(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"{what} within {within} s"
        await asyncio.sleep(0.1)


async def test_mail_passwords_appear_in_no_log_answer_or_output(
    services: RunningServices, imap_server: RefusingImapServer
) -> None:
    """Failures involving the SMTP and IMAP passwords never show them (see module doc)."""
    gateway = services.url("gateway")
    seen: list[str] = []
    with silent_server() as (_, closed_port):
        pass  # the port is free again: nothing listens there
    seen.append(
        postdesk_cli(
            services,
            *("smtp", "set", DEMO_SLUG, "--host", "127.0.0.1", "--port", str(closed_port)),
            *("--security", "none", "--username", SMTP_USER),
            *("--password-env", "SMTP_PASSWORD_VAR"),
        )
    )
    async with (
        httpx.AsyncClient(timeout=30) as http,
        smtp_server(users={SMTP_USER: "the-right-password"}) as refusing_smtp,
    ):
        admin = await services.admin_headers(http)
        closed = await http.post(f"{gateway}/admin/smtp/test", json={}, headers=admin)
        assert closed.status_code == 200, closed.text
        assert closed.json()["ok"] is False, closed.text
        seen.append(closed.text)
        # only the port changes (the CLI's `set` is run once: each run costs seconds)
        async with services.engine.begin() as conn:
            await conn.execute(
                update(SmtpServer)
                .where(col(SmtpServer.tenant_id) == services.demo.tenant_id)
                .values(port=refusing_smtp.port)
            )
        refused = await http.post(f"{gateway}/admin/smtp/test", json={}, headers=admin)
        assert refused.json()["stage"] == "auth", refused.text
        seen.append(refused.text)
        seen.append(postdesk_cli(services, "smtp", "test", DEMO_SLUG))
        await send_through(http, services, admin, refusing_smtp)

        mailbox = {
            "account_id": await account_id(http, services, admin, address("cs")),
            "host": "127.0.0.1",
            "port": imap_server.port,
            "security": "plain",
            "username": SMTP_USER,
            "password": IMAP_MARKER,
            "folder": "INBOX",
            "after_action": "flag",
        }
        invalid = await http.post(
            f"{gateway}/admin/imap-mailboxes", json=mailbox | {"port": 0}, headers=admin
        )
        assert invalid.status_code == 400, invalid.text
        seen.append(invalid.text)
        created = await http.post(f"{gateway}/admin/imap-mailboxes", json=mailbox, headers=admin)
        assert created.status_code == 201, created.text
        seen.append(created.text)
        # two refused logins: the first failure was handled (and logged) before the retry
        await wait_for(lambda: imap_server.logins() >= 2, 20, "ingest logs in twice")
        seen.extend(await answers(http, services, admin))
    await asyncio.sleep(0.5)  # the last log lines on their way through the pipes
    seen.append(services.log.getvalue())
    leaks = [
        (form, text[max(0, text.find(form) - 200) : text.find(form) + 50])
        for text in seen
        for form in (*forms_of(SMTP_MARKER), *forms_of(IMAP_MARKER))
        if form in text
    ]
    assert leaks == []


async def test_login_throttle_holds_under_spoofed_forwarded_for(
    services: RunningServices,
) -> None:
    """Failed logins from one client, each claiming another address: the throttle holds."""
    statuses = []
    async with httpx.AsyncClient(timeout=30) as http:
        for attempt in range(LOGIN_IP_MAX_FAILURES + 2):
            response = await http.post(
                f"{services.url('gateway')}/auth/login",
                json={"email": f"nobody-{uuid.uuid4().hex}@example.test", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{attempt + 1}"},
            )
            statuses.append(response.status_code)
    assert statuses == [401] * LOGIN_IP_MAX_FAILURES + [429, 429]


async def test_ingest_source_limit_holds_under_spoofed_forwarded_for(
    services: RunningServices,
) -> None:
    """Raw-webhook requests from one client, each claiming another address: the per-source
    limit is taken before the signature is read, and holds."""
    statuses = []
    async with httpx.AsyncClient(timeout=30) as http:
        for attempt in range(SOURCE_BURST + 2):
            response = await http.post(
                f"{services.url('ingest')}/webhooks/raw",
                content=b"Subject: x\r\n\r\nx\r\n",
                headers={"X-Forwarded-For": f"198.51.100.{attempt + 1}"},
            )
            statuses.append(response.status_code)
    assert statuses == [401] * SOURCE_BURST + [429, 429]
