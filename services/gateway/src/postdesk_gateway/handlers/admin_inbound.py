"""Admin: inbound domains, generated inbound addresses and IMAP mailboxes. Tenant admins only
(403); another tenant's ids are 404."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
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
from postdesk_runtime.keyring import Keyring
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import admin_inbound
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import AddressId, DomainId, ImapMailboxId

Session = NamedDependency[AsyncSession]
User = NamedDependency[CurrentUser]
ClientIp = NamedDependency[str]


class InboundDomainAdminController(Controller):
    path = "/admin/inbound-domains"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def list_domains(self, session: Session, user: User) -> InboundDomainList:
        """The tenant's inbound domains."""
        return await admin_inbound.list_domains(session, user)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 409))
    async def create_domain(
        self, data: JSONBody[InboundDomainCreate], session: Session, user: User, client_ip: ClientIp
    ) -> InboundDomainView:
        """Claim a domain for the tenant (409 when any tenant has it)."""
        return await admin_inbound.create_domain(session, user, data, ip=client_ip)

    @patch("/{domain_id:uuid}", responses=problems(400, 401, 403, 404))
    async def update_domain(
        self,
        domain_id: DomainId,
        data: JSONBody[InboundDomainUpdate],
        session: Session,
        user: User,
        client_ip: ClientIp,
    ) -> InboundDomainView:
        """Change (or, with null, remove) the catch-all mailbox."""
        return await admin_inbound.update_domain(session, user, domain_id, data, ip=client_ip)

    @delete("/{domain_id:uuid}", responses=problems(400, 401, 403, 404))
    async def delete_domain(
        self, domain_id: DomainId, session: Session, user: User, client_ip: ClientIp
    ) -> None:
        """Give the domain up: its mail is refused from now on."""
        await admin_inbound.delete_domain(session, user, domain_id, ip=client_ip)


class InboundAddressAdminController(Controller):
    path = "/admin/inbound-addresses"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def list_addresses(self, session: Session, user: User) -> InboundAddressList:
        """The tenant's inbound addresses."""
        return await admin_inbound.list_addresses(session, user)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 409))
    async def create_address(
        self,
        data: JSONBody[InboundAddressCreate],
        session: Session,
        user: User,
        client_ip: ClientIp,
    ) -> InboundAddressView:
        """An address delivering to a mailbox (409 when any tenant has it)."""
        return await admin_inbound.create_address(session, user, data, ip=client_ip)

    @patch("/{address_id:uuid}", responses=problems(400, 401, 403, 404, 422))
    async def update_address(
        self,
        address_id: AddressId,
        data: JSONBody[InboundAddressUpdate],
        session: Session,
        user: User,
        client_ip: ClientIp,
    ) -> InboundAddressView:
        """Point it at another mailbox, or switch it on or off."""
        return await admin_inbound.update_address(session, user, address_id, data, ip=client_ip)

    @delete("/{address_id:uuid}", responses=problems(400, 401, 403, 404))
    async def delete_address(
        self, address_id: AddressId, session: Session, user: User, client_ip: ClientIp
    ) -> None:
        """Remove the address: its mail is refused from now on."""
        await admin_inbound.delete_address(session, user, address_id, ip=client_ip)


class ImapMailboxAdminController(Controller):
    path = "/admin/imap-mailboxes"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def list_mailboxes(self, session: Session, user: User) -> ImapMailboxList:
        """The tenant's IMAP mailboxes (never their passwords)."""
        return await admin_inbound.list_imap(session, user)

    @get("/{mailbox_id:uuid}", responses=problems(400, 401, 403, 404))
    async def get_mailbox(
        self, mailbox_id: ImapMailboxId, session: Session, user: User
    ) -> ImapMailboxView:
        """One IMAP mailbox (never its password)."""
        return await admin_inbound.get_imap(session, user, mailbox_id)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 422))
    async def create_mailbox(
        self,
        data: JSONBody[ImapMailboxCreate],
        session: Session,
        user: User,
        keyring: NamedDependency[Keyring],
        client_ip: ClientIp,
    ) -> ImapMailboxView:
        """Have ingest read an IMAP folder for a mailbox; the password is stored sealed."""
        return await admin_inbound.create_imap(session, keyring, user, data, ip=client_ip)

    @patch("/{mailbox_id:uuid}", responses=problems(400, 401, 403, 404, 422))
    async def update_mailbox(
        self,
        mailbox_id: ImapMailboxId,
        data: JSONBody[ImapMailboxUpdate],
        session: Session,
        user: User,
        keyring: NamedDependency[Keyring],
        client_ip: ClientIp,
    ) -> ImapMailboxView:
        """Change the given settings; a new password replaces the stored one."""
        return await admin_inbound.update_imap(
            session, keyring, user, mailbox_id, data, ip=client_ip
        )

    @delete("/{mailbox_id:uuid}", responses=problems(400, 401, 403, 404, 409))
    async def delete_mailbox(
        self, mailbox_id: ImapMailboxId, session: Session, user: User, client_ip: ClientIp
    ) -> None:
        """Delete a mailbox ingest has never read (409: deactivate it instead)."""
        await admin_inbound.delete_imap(session, user, mailbox_id, ip=client_ip)
