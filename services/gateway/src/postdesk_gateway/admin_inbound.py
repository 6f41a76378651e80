"""Admin: where the tenant's mail comes in: inbound domains, generated inbound addresses
and IMAP mailboxes.

Invariants (besides those of `admin_common`):
- Domains and addresses are lower-cased and unique across tenants (409); a
  mailbox they deliver to is the tenant's (404 otherwise).
- An IMAP password is stored only sealed with the keyring
  (`postdesk_runtime.imap_credentials`, the purpose ingest opens it with) and is
  never returned or audited.
- An IMAP mailbox ingest has read (it has a sync state, ingest's row) is not
  deleted, only deactivated (409): its position and lease are ingest's to keep.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from postdesk_contracts.api_admin import (
    ImapMailboxCreate,
    ImapMailboxList,
    ImapMailboxUpdate,
    ImapMailboxView,
    InboundAddressCreate,
    InboundAddressList,
    InboundAddressUpdate,
    InboundAddressView,
    InboundDomainCreate,
    InboundDomainList,
    InboundDomainUpdate,
    InboundDomainView,
)
from postdesk_runtime.imap_credentials import seal_imap_password
from postdesk_runtime.keyring import Keyring
from postdesk_schema import ImapMailbox, ImapSyncState, InboundAddress, InboundDomain
from sqlalchemy import exists
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from postdesk_gateway.admin_common import audit_change, require_admin, snapshot, tenant_account
from postdesk_gateway.domain import ConflictError, CurrentUser, NotFoundError, UnprocessableError

Row = TypeVar("Row", bound=SQLModel)
# What an IMAP audit row records: the settings, never the password or its ciphertext.
_IMAP_AUDITED: Final = tuple(
    name for name in ImapMailboxView.model_fields if name not in {"id", "created_at", "updated_at"}
)


async def _owned(
    session: AsyncSession, user: CurrentUser, table: type[Row], row_id: uuid.UUID, what: str
) -> Row:
    require_admin(user)
    query = select(table).where(
        col(getattr(table, "id")) == row_id,  # noqa: B009  # every inbound table has both
        col(getattr(table, "tenant_id")) == user.tenant_id,  # noqa: B009
    )
    found = (await session.scalars(query.with_for_update())).one_or_none()
    if found is None:
        raise NotFoundError(f"{what} not found")
    return found


async def _commit_unique(session: AsyncSession, what: str) -> None:
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise ConflictError(f"this {what} is already taken") from error


async def _refuse_taken(session: AsyncSession, column: Any, value: str, what: str) -> None:
    if await session.scalar(select(exists().where(column == value))):
        raise ConflictError(f"this {what} is already taken")


def _changes(data: Any, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise UnprocessableError(f"{name} cannot be null")
    return changes


def _set(row: SQLModel, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply `changes`; the old and new values, for the audit row."""
    old = snapshot(row, changes)
    for name, value in changes.items():
        setattr(row, name, value)
    return old, snapshot(row, changes)


# ---- domains ----------------------------------------------------------------------------------


def _domain_view(row: InboundDomain) -> InboundDomainView:
    return InboundDomainView.model_validate(row, from_attributes=True)


async def list_domains(session: AsyncSession, user: CurrentUser) -> InboundDomainList:
    require_admin(user)
    rows = await session.scalars(
        select(InboundDomain)
        .where(col(InboundDomain.tenant_id) == user.tenant_id)
        .order_by(col(InboundDomain.domain))
    )
    return InboundDomainList(items=[_domain_view(row) for row in rows])


async def create_domain(
    session: AsyncSession, user: CurrentUser, data: InboundDomainCreate, *, ip: str
) -> InboundDomainView:
    require_admin(user)
    domain = data.domain.lower()
    if data.catch_all_account_id is not None:
        await tenant_account(session, user, data.catch_all_account_id)
    await _refuse_taken(session, col(InboundDomain.domain), domain, "domain")
    row = InboundDomain(
        tenant_id=user.tenant_id, domain=domain, catch_all_account_id=data.catch_all_account_id
    )
    session.add(row)
    audit_change(
        session,
        user,
        action="inbound_domain.created",
        object_type="inbound_domain",
        object_id=row.id,
        ip=ip,
        new=snapshot(row, ("domain", "catch_all_account_id")),
    )
    await _commit_unique(session, "domain")
    return _domain_view(row)


async def update_domain(
    session: AsyncSession,
    user: CurrentUser,
    domain_id: uuid.UUID,
    data: InboundDomainUpdate,
    *,
    ip: str,
) -> InboundDomainView:
    row = await _owned(session, user, InboundDomain, domain_id, "inbound domain")
    changes = _changes(data, frozenset({"catch_all_account_id"}))
    if changes.get("catch_all_account_id") is not None:
        await tenant_account(session, user, changes["catch_all_account_id"])
    old, new = _set(row, changes)
    if changes:
        audit_change(
            session,
            user,
            action="inbound_domain.updated",
            object_type="inbound_domain",
            object_id=row.id,
            ip=ip,
            old=old,
            new=new,
        )
    await session.commit()
    return _domain_view(row)


async def delete_domain(
    session: AsyncSession, user: CurrentUser, domain_id: uuid.UUID, *, ip: str
) -> None:
    row = await _owned(session, user, InboundDomain, domain_id, "inbound domain")
    old = snapshot(row, ("domain", "catch_all_account_id"))
    await session.delete(row)
    audit_change(
        session,
        user,
        action="inbound_domain.deleted",
        object_type="inbound_domain",
        object_id=domain_id,
        ip=ip,
        old=old,
    )
    await session.commit()


# ---- generated addresses ----------------------------------------------------------------------


def _address_view(row: InboundAddress) -> InboundAddressView:
    return InboundAddressView.model_validate(row, from_attributes=True)


async def list_addresses(session: AsyncSession, user: CurrentUser) -> InboundAddressList:
    require_admin(user)
    rows = await session.scalars(
        select(InboundAddress)
        .where(col(InboundAddress.tenant_id) == user.tenant_id)
        .order_by(col(InboundAddress.address))
    )
    return InboundAddressList(items=[_address_view(row) for row in rows])


async def create_address(
    session: AsyncSession, user: CurrentUser, data: InboundAddressCreate, *, ip: str
) -> InboundAddressView:
    require_admin(user)
    address = data.address.strip().lower()
    await tenant_account(session, user, data.account_id)
    await _refuse_taken(session, col(InboundAddress.address), address, "address")
    row = InboundAddress(
        tenant_id=user.tenant_id,
        address=address,
        account_id=data.account_id,
        is_active=data.is_active,
    )
    session.add(row)
    audit_change(
        session,
        user,
        action="inbound_address.created",
        object_type="inbound_address",
        object_id=row.id,
        ip=ip,
        new=snapshot(row, ("address", "account_id", "is_active")),
    )
    await _commit_unique(session, "address")
    return _address_view(row)


async def update_address(
    session: AsyncSession,
    user: CurrentUser,
    address_id: uuid.UUID,
    data: InboundAddressUpdate,
    *,
    ip: str,
) -> InboundAddressView:
    row = await _owned(session, user, InboundAddress, address_id, "inbound address")
    changes = _changes(data)
    if "account_id" in changes:
        await tenant_account(session, user, changes["account_id"])
    old, new = _set(row, changes)
    if changes:
        audit_change(
            session,
            user,
            action="inbound_address.updated",
            object_type="inbound_address",
            object_id=row.id,
            ip=ip,
            old=old,
            new=new,
        )
    await session.commit()
    return _address_view(row)


async def delete_address(
    session: AsyncSession, user: CurrentUser, address_id: uuid.UUID, *, ip: str
) -> None:
    row = await _owned(session, user, InboundAddress, address_id, "inbound address")
    old = snapshot(row, ("address", "account_id", "is_active"))
    await session.delete(row)
    audit_change(
        session,
        user,
        action="inbound_address.deleted",
        object_type="inbound_address",
        object_id=address_id,
        ip=ip,
        old=old,
    )
    await session.commit()


# ---- IMAP mailboxes ---------------------------------------------------------------------------


def _imap_view(row: ImapMailbox) -> ImapMailboxView:
    return ImapMailboxView.model_validate(row, from_attributes=True)


def _check_after_action(row: ImapMailbox) -> None:
    if row.after_action == "move" and not row.move_to_folder:
        raise UnprocessableError("after_action move needs move_to_folder")
    if row.after_action != "move" and row.move_to_folder:
        raise UnprocessableError("move_to_folder is only for after_action move")


async def list_imap(session: AsyncSession, user: CurrentUser) -> ImapMailboxList:
    require_admin(user)
    rows = await session.scalars(
        select(ImapMailbox)
        .where(col(ImapMailbox.tenant_id) == user.tenant_id)
        .order_by(col(ImapMailbox.created_at), col(ImapMailbox.id))
    )
    return ImapMailboxList(items=[_imap_view(row) for row in rows])


async def get_imap(
    session: AsyncSession, user: CurrentUser, mailbox_id: uuid.UUID
) -> ImapMailboxView:
    return _imap_view(await _owned(session, user, ImapMailbox, mailbox_id, "IMAP mailbox"))


async def create_imap(
    session: AsyncSession,
    keyring: Keyring,
    user: CurrentUser,
    data: ImapMailboxCreate,
    *,
    ip: str,
) -> ImapMailboxView:
    require_admin(user)
    await tenant_account(session, user, data.account_id)
    row = ImapMailbox(
        tenant_id=user.tenant_id,
        password_ciphertext=seal_imap_password(keyring, data.password),
        **data.model_dump(exclude={"password"}),
    )
    _check_after_action(row)
    session.add(row)
    audit_change(
        session,
        user,
        action="imap_mailbox.created",
        object_type="imap_mailbox",
        object_id=row.id,
        ip=ip,
        new=snapshot(row, _IMAP_AUDITED),
    )
    await session.commit()
    return _imap_view(row)


async def update_imap(
    session: AsyncSession,
    keyring: Keyring,
    user: CurrentUser,
    mailbox_id: uuid.UUID,
    data: ImapMailboxUpdate,
    *,
    ip: str,
) -> ImapMailboxView:
    row = await _owned(session, user, ImapMailbox, mailbox_id, "IMAP mailbox")
    changes = _changes(data, frozenset({"move_to_folder"}))
    password = changes.pop("password", None)
    old, new = _set(row, changes)
    _check_after_action(row)
    if password is not None:
        row.password_ciphertext = seal_imap_password(keyring, password)
        old["password"], new["password"] = "(kept)", "(replaced)"
    if changes or password is not None:
        row.updated_at = datetime.now(UTC)
        audit_change(
            session,
            user,
            action="imap_mailbox.updated",
            object_type="imap_mailbox",
            object_id=row.id,
            ip=ip,
            old=old,
            new=new,
        )
    await session.commit()
    return _imap_view(row)


async def delete_imap(
    session: AsyncSession, user: CurrentUser, mailbox_id: uuid.UUID, *, ip: str
) -> None:
    row = await _owned(session, user, ImapMailbox, mailbox_id, "IMAP mailbox")
    if await session.scalar(select(exists().where(col(ImapSyncState.mailbox_id) == row.id))):
        raise ConflictError("ingest has read this mailbox: deactivate it instead")
    old = snapshot(row, _IMAP_AUDITED)
    await session.delete(row)
    audit_change(
        session,
        user,
        action="imap_mailbox.deleted",
        object_type="imap_mailbox",
        object_id=mailbox_id,
        ip=ip,
        old=old,
    )
    await session.commit()
