"""The SMTP server mail goes out through: smtp_servers rows, read and written.

A tenant has at most one default row (account_id NULL) and each account at
most one override (unique partial indexes). Mail of an account goes through
its *active* override, else the tenant's *active* default, else nowhere:
`load_target` returns None and the sender fails the message as unconfigured.
An inactive row is kept (with its password) but ignored.

Passwords are sealed with the keyring under `PASSWORD_PURPOSE`; the plain
password exists only inside an `SmtpTarget`, for one SMTP session, and is
left out of its repr. An empty password is stored as "" (nothing to seal).

Writes (`save_server`) run in the caller's transaction and are serialised
per tenant by an advisory lock, so two concurrent first saves of one scope
cannot both insert. Changing how the server is reached clears the last test
result, which described the old settings.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Final

from postdesk_runtime.keyring import Keyring
from postdesk_schema import EmailAccount, SmtpServer
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

PASSWORD_PURPOSE: Final = b"smtp-password"
SECURITIES: Final = ("tls", "starttls", "none")
DEFAULT_PORTS: Final = {"tls": 465, "starttls": 587, "none": 25}
MAX_TIMEOUT_SECONDS: Final = 600.0
MAX_HOST_CHARS: Final = 253
MAX_CREDENTIAL_CHARS: Final = 1024
_HOST = re.compile(r"^[A-Za-z0-9._:\-]+$")  # a DNS name or an IP address, nothing else
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9\-]+$"
)
# Changing one of these makes the last test result stale.
_CONNECTION_FIELDS: Final = ("host", "port", "security", "username", "password_sealed")


class SmtpSettingsError(ValueError):
    """A setting refused; str(error) says why, for the user."""


@dataclass(frozen=True)
class SmtpTarget:
    """Everything one SMTP session needs. `security`: tls (implicit TLS), starttls
    (required, never skipped) or none; `timeout`: seconds per command.
    `ca_file`: a PEM bundle to verify the server with instead of the system's
    trust store (tests, private CAs); certificates are always verified."""

    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)
    from_domain: str
    timeout: float
    ca_file: str | None = None

    def __post_init__(self) -> None:
        check_connection(self.host, self.port, self.security, self.timeout)


def check_connection(host: str, port: int, security: str, timeout: float) -> None:
    """Raise SmtpSettingsError unless these can describe an SMTP server."""
    if not host or len(host) > MAX_HOST_CHARS or not _HOST.match(host):
        raise SmtpSettingsError(f"host {host!r} is not a host name or IP address")
    if not 1 <= port <= 65535:
        raise SmtpSettingsError(f"port {port} is not 1 to 65535")
    if security not in SECURITIES:
        raise SmtpSettingsError(f"security {security!r} is not one of {', '.join(SECURITIES)}")
    if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        raise SmtpSettingsError(f"timeout {timeout} is not above 0 and at most 600 seconds")


def seal_password(keyring: Keyring, password: str) -> str:
    """The value of smtp_servers.password_sealed for `password` ("" for none)."""
    return keyring.encrypt_text(password, purpose=PASSWORD_PURPOSE) if password else ""


def open_password(keyring: Keyring, sealed: str) -> str:
    """The password back; KeyringError for a damaged token or a key no longer in the ring."""
    return keyring.decrypt_text(sealed, purpose=PASSWORD_PURPOSE) if sealed else ""


def target_of(server: SmtpServer, keyring: Keyring) -> SmtpTarget:
    return SmtpTarget(
        host=server.host,
        port=server.port,
        security=server.security,
        username=server.username,
        password=open_password(keyring, server.password_sealed),
        from_domain=server.from_domain,
        timeout=server.timeout_seconds,
    )


async def find_server(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_id: uuid.UUID | None
) -> SmtpServer | None:
    """The row of exactly this scope (the tenant default when account_id is None), any state."""
    query = select(SmtpServer).where(col(SmtpServer.tenant_id) == tenant_id)
    query = query.where(
        col(SmtpServer.account_id).is_(None)
        if account_id is None
        else col(SmtpServer.account_id) == account_id
    )
    return (await session.scalars(query)).first()


async def effective_server(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_id: uuid.UUID | None
) -> SmtpServer | None:
    """The active row mail of `account_id` goes through: its override, else the default."""
    query = (
        select(SmtpServer)
        .where(col(SmtpServer.tenant_id) == tenant_id, col(SmtpServer.is_active))
        .where(
            col(SmtpServer.account_id).is_(None)
            if account_id is None
            else (col(SmtpServer.account_id) == account_id) | col(SmtpServer.account_id).is_(None)
        )
        # the override (non-null account_id) first
        .order_by(col(SmtpServer.account_id).is_(None))
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def load_target(
    session: AsyncSession, keyring: Keyring, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> SmtpTarget | None:
    """Where mail of the account goes out: its active override, else the tenant's active
    default; None when neither exists. KeyringError if the password cannot be opened."""
    server = await effective_server(session, tenant_id=tenant_id, account_id=account_id)
    return None if server is None else target_of(server, keyring)


@dataclass(frozen=True)
class ServerChanges:
    """A save of one scope; None leaves a field as it is (or its default on creation).
    A port left None on a new row, or when security changes, is the security's default."""

    host: str | None = None
    port: int | None = None
    security: str | None = None
    username: str | None = None
    password: str | None = None
    from_domain: str | None = None
    timeout: float | None = None
    is_active: bool | None = None

    def __post_init__(self) -> None:
        for name in ("username", "password"):
            value = getattr(self, name)
            if value is not None and (
                len(value) > MAX_CREDENTIAL_CHARS or any(c in value for c in "\r\n\0")
            ):
                raise SmtpSettingsError(f"{name} is too long or contains a line break")
        if self.from_domain and not _DOMAIN.match(self.from_domain):
            raise SmtpSettingsError(f"from-domain {self.from_domain!r} is not a domain name")

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


async def save_server(
    session: AsyncSession,
    keyring: Keyring,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID | None,
    changes: ServerChanges,
    now: datetime | None = None,
) -> tuple[SmtpServer, bool]:
    """Create or change the row of this scope; the row and whether it was created.

    The account, when given, must be the tenant's. Runs in the caller's transaction.
    """
    now = now or datetime.now(UTC)
    if account_id is not None:
        account = await session.get(EmailAccount, account_id)
        if account is None or account.tenant_id != tenant_id:
            raise SmtpSettingsError("the account is not one of the tenant's")
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"postdesk.smtp-servers:{tenant_id}"},
    )
    server = await find_server(session, tenant_id=tenant_id, account_id=account_id)
    created = server is None
    if server is None:
        if changes.host is None:
            raise SmtpSettingsError("a new SMTP server needs a host")
        server = SmtpServer(tenant_id=tenant_id, account_id=account_id, host=changes.host)
    before = {name: getattr(server, name) for name in _CONNECTION_FIELDS}
    security = changes.security if changes.security is not None else server.security
    if changes.port is not None:
        server.port = changes.port
    elif created or security != server.security:
        server.port = DEFAULT_PORTS.get(security, server.port)
    server.security = security
    if changes.host is not None:
        server.host = changes.host.strip()
    if changes.username is not None:
        server.username = changes.username
    if changes.password is not None:
        server.password_sealed = seal_password(keyring, changes.password)
    if changes.from_domain is not None:
        server.from_domain = changes.from_domain.strip().lower()
    if changes.timeout is not None:
        server.timeout_seconds = changes.timeout
    if changes.is_active is not None:
        server.is_active = changes.is_active
    check_connection(server.host, server.port, server.security, server.timeout_seconds)
    after = {name: getattr(server, name) for name in _CONNECTION_FIELDS}
    # a re-sealed, equal password also counts: the ciphertext cannot be compared
    if not created and before != after:
        server.last_test_at = None
        server.last_test_result = ""
    server.updated_at = now
    session.add(server)
    await session.flush()
    return server, created


async def probe_sender(
    session: AsyncSession, *, tenant_id: uuid.UUID, account_id: uuid.UUID | None
) -> str | None:
    """The MAIL FROM a connection test uses unless told: the account's address, else the
    tenant's first active account's, else postmaster@ the default's from-domain."""
    query = select(col(EmailAccount.address)).where(col(EmailAccount.tenant_id) == tenant_id)
    if account_id is not None:
        query = query.where(col(EmailAccount.id) == account_id)
    else:
        query = query.where(col(EmailAccount.is_active)).order_by(col(EmailAccount.created_at))
    address: str | None = (await session.scalars(query.limit(1))).first()
    if address:
        return address
    server = await find_server(session, tenant_id=tenant_id, account_id=None)
    return f"postmaster@{server.from_domain}" if server and server.from_domain else None


async def record_test(
    session: AsyncSession, server_id: uuid.UUID, result: str, *, at: datetime | None = None
) -> None:
    """Store the outcome of a connection test on the row (caller's transaction)."""
    await session.execute(
        update(SmtpServer)
        .where(col(SmtpServer.id) == server_id)
        .values(last_test_at=at or datetime.now(UTC), last_test_result=result)
    )


__all__ = [
    "DEFAULT_PORTS",
    "PASSWORD_PURPOSE",
    "SECURITIES",
    "ServerChanges",
    "SmtpSettingsError",
    "SmtpTarget",
    "check_connection",
    "effective_server",
    "find_server",
    "load_target",
    "open_password",
    "probe_sender",
    "record_test",
    "save_server",
    "seal_password",
    "target_of",
]
