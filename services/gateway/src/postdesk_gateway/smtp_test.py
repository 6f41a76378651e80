"""Testing a tenant's SMTP settings from the admin console (tenant admins only).

The settings tested are the ones mail would use (`effective_server`: the
account's active override, else the tenant's active default). The database
transaction ends before the SMTP conversation, which can take up to the
server's timeout, so no connection is held meanwhile; the result is
recorded on the row afterwards (last_test_at, last_test_result).
"""

from __future__ import annotations

import uuid

import structlog
from postdesk_contracts.api import SmtpTestResult
from postdesk_runtime.keyring import Keyring, KeyringError
from postdesk_schema import EmailAccount
from postdesk_smtp.client import probe
from postdesk_smtp.settings import (
    SmtpSettingsError,
    effective_server,
    probe_sender,
    record_test,
    target_of,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway.admin_common import require_admin
from postdesk_gateway.domain import CurrentUser, NotFoundError

log = structlog.get_logger(__name__)


async def run_smtp_test(
    session: AsyncSession,
    keyring: Keyring,
    user: CurrentUser,
    account_id: uuid.UUID | None,
) -> SmtpTestResult:
    """Probe the SMTP server mail of `account_id` (or the tenant default) goes through.

    403 for anyone but a tenant admin; 404 for an account not of the tenant or
    when there are no active settings to test.
    """
    require_admin(user, "test the SMTP settings")
    if account_id is not None:
        account = await session.get(EmailAccount, account_id)
        if account is None or account.tenant_id != user.tenant_id:
            raise NotFoundError("no such account")
    server = await effective_server(session, tenant_id=user.tenant_id, account_id=account_id)
    if server is None:
        raise NotFoundError("no active SMTP settings")
    described = f"{server.host}:{server.port} ({server.security})"
    sender = (
        await probe_sender(session, tenant_id=user.tenant_id, account_id=account_id) or user.email
    )
    server_id = server.id
    try:
        target = target_of(server, keyring)
    except (KeyringError, SmtpSettingsError) as error:
        await session.rollback()
        reason = f"the stored settings cannot be used ({error}); set them again"
        log.warning("smtp settings unusable", server_id=str(server_id), error=str(error))
        return SmtpTestResult(
            ok=False,
            stage="settings",
            reason=reason,
            outcome="temporary",
            server=described,
            sender=sender,
        )
    await session.commit()  # ends the read transaction: no connection held while probing
    result = await probe(target, envelope_from=sender)
    await record_test(session, server_id, result.summary())
    await session.commit()
    log.info(
        "smtp settings tested",
        server_id=str(server_id),
        ok=result.ok,
        stage=result.stage,
        user_id=str(user.id),
    )
    return SmtpTestResult(
        ok=result.ok,
        stage=result.stage,
        reason=result.response,
        outcome=result.outcome.value,
        server=described,
        sender=sender,
    )
