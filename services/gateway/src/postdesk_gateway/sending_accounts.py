"""Which mailbox a user may send mail from: the one rule for a new mail's and a reply's From."""

from __future__ import annotations

import uuid

from postdesk_schema import EmailAccount
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db
from postdesk_gateway.domain import CurrentUser, ForbiddenError, NotFoundError


async def sending_account(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID
) -> EmailAccount:
    """The mailbox, if `user` may send from it: 404 when it is not visible (another tenant's,
    or one the user holds no active assignment on), 403 without can_send (primary and backup
    roles carry it; tenant admins hold it on every mailbox) or when it is deactivated."""
    found = await db.visible_accounts(session, user, account_id=account_id)
    if not found:
        raise NotFoundError("mailbox not found")
    [(account, assignment)] = found
    if not user.is_admin and (assignment is None or not assignment.can_send):
        raise ForbiddenError("you may not send from this mailbox")
    if not account.is_active:
        raise ForbiddenError("this mailbox is deactivated: it sends no mail")
    return account
