"""Admin: the tenant's mailboxes and their assignments. Tenant admins only (403); another
tenant's ids are 404."""

from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api_admin import (
    AccountCreate,
    AccountList,
    AccountUpdate,
    AccountView,
    AccountWithStats,
    AssignmentList,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import admin_accounts, admin_assignments
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import AccountId


class AccountAdminController(Controller):
    path = "/admin/accounts"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def list_accounts(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> AccountList:
        """The tenant's mailboxes by address, each with open tickets, tickets of the last 7
        days and the average first response (minutes, tickets of the last 30 days)."""
        return await admin_accounts.list_accounts(session, user)

    @get("/{account_id:uuid}", responses=problems(400, 401, 403, 404))
    async def get_account(
        self,
        account_id: AccountId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> AccountWithStats:
        """One mailbox with its statistics."""
        return await admin_accounts.get_account(session, user, account_id)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 409, 422))
    async def create_account(
        self,
        data: JSONBody[AccountCreate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> AccountView:
        """Create a shared or personal mailbox (409 when the address is taken anywhere)."""
        return await admin_accounts.create_account(session, user, data, ip=client_ip)

    @patch("/{account_id:uuid}", responses=problems(400, 401, 403, 404, 422))
    async def update_account(
        self,
        account_id: AccountId,
        data: JSONBody[AccountUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> AccountView:
        """Change the given settings only (unknown fields are refused)."""
        return await admin_accounts.update_account(session, user, account_id, data, ip=client_ip)

    @post("/{account_id:uuid}/deactivate", status_code=200, responses=problems(400, 401, 403, 404))
    async def deactivate_account(
        self,
        account_id: AccountId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> AccountView:
        """Deactivate a mailbox (never deleted)."""
        return await admin_accounts.deactivate_account(session, user, account_id, ip=client_ip)

    @get("/{account_id:uuid}/assignments", responses=problems(400, 401, 403, 404))
    async def account_assignments(
        self,
        account_id: AccountId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> AssignmentList:
        """Who may use the mailbox (removed assignments too, after the active ones)."""
        return await admin_assignments.account_assignments(session, user, account_id)
