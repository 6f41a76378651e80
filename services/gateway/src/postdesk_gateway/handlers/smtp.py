"""Admin: the tenant's SMTP settings."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api import SmtpTestRequest, SmtpTestResult
from postdesk_contracts.api_smtp import SmtpServerChange, SmtpServerView, SmtpSettingsView
from postdesk_runtime.keyring import Keyring
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import smtp_settings
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import AccountId
from postdesk_gateway.smtp_test import run_smtp_test

Session = NamedDependency[AsyncSession]
User = NamedDependency[CurrentUser]
ClientIp = NamedDependency[str]
Keys = NamedDependency[Keyring]


class SmtpAdminController(Controller):
    path = "/admin/smtp"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def get_settings(self, session: Session, user: User) -> SmtpSettingsView:
        """The tenant's default SMTP server (null when none is stored) and every mailbox's
        override. Passwords are never shown, only whether one is stored. Tenant admins only."""
        return await smtp_settings.smtp_settings(session, user)

    @put(responses=problems(400, 401, 403, 422))
    async def save_default(
        self,
        data: JSONBody[SmtpServerChange],
        session: Session,
        user: User,
        keyring: Keys,
        client_ip: ClientIp,
    ) -> SmtpServerView:
        """Create or change the tenant's default SMTP server: only the fields given change
        (a first save needs `host`); `password` omitted keeps it, "" clears it. 422 with the
        reason for a setting refused."""
        return await smtp_settings.save_smtp_server(
            session, keyring, user, None, data, ip=client_ip
        )

    @put("/accounts/{account_id:uuid}", responses=problems(400, 401, 403, 404, 422))
    async def save_override(
        self,
        account_id: AccountId,
        data: JSONBody[SmtpServerChange],
        session: Session,
        user: User,
        keyring: Keys,
        client_ip: ClientIp,
    ) -> SmtpServerView:
        """Create or change the mailbox's own SMTP server (its override of the default),
        like the default."""
        return await smtp_settings.save_smtp_server(
            session, keyring, user, account_id, data, ip=client_ip
        )

    @delete("/accounts/{account_id:uuid}", responses=problems(400, 401, 403, 404))
    async def delete_override(
        self, account_id: AccountId, session: Session, user: User, client_ip: ClientIp
    ) -> None:
        """Remove the mailbox's override: its mail goes through the default again. Nothing
        to remove is no error."""
        await smtp_settings.delete_smtp_override(session, user, account_id, ip=client_ip)

    @post("/test", status_code=200, responses=problems(400, 401, 403, 404))
    async def test_connection(
        self,
        data: JSONBody[SmtpTestRequest],
        session: Session,
        user: User,
        keyring: Keys,
    ) -> SmtpTestResult:
        """Test the SMTP server that `account_id`'s mail (or, without it, the tenant's) goes
        through: connect, TLS, login, MAIL FROM. A failed test is a 200 with `ok` false and
        the stage and reason; the result is also recorded with the settings. Tenant admins
        only; 404 when there are no active settings."""
        return await run_smtp_test(session, keyring, user, data.account_id)
