"""Admin: the tenant's SMTP settings."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api import SmtpTestRequest, SmtpTestResult
from postdesk_runtime.keyring import Keyring
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.smtp_test import run_smtp_test


class SmtpAdminController(Controller):
    path = "/admin/smtp"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @post("/test", status_code=200, responses=problems(400, 401, 403, 404))
    async def test_connection(
        self,
        data: JSONBody[SmtpTestRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        keyring: NamedDependency[Keyring],
    ) -> SmtpTestResult:
        """Test the SMTP server that `account_id`'s mail (or, without it, the tenant's) goes
        through: connect, TLS, login, MAIL FROM. A failed test is a 200 with `ok` false and
        the stage and reason; the result is also recorded with the settings. Tenant admins
        only; 404 when there are no active settings."""
        return await run_smtp_test(session, keyring, user, data.account_id)
