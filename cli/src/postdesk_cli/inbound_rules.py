"""Rules for where tenants receive mail: generated inbound addresses and tenants' own domains.

Plain async functions over a session factory (`Sessions`), so the admin API
can apply the same rules later; the `postdesk inbound` commands call them.
Every refusal raises `InboundConfigError` with a message meant for the user.

Invariants kept here:
- a generated address is `<tenant-slug>-<10 random base32 chars>@<domain>`,
  about 50 bits of randomness, so nobody can guess a tenant's address;
- it lives on the platform's inbound domain or on one of the tenant's own domains;
- a domain is stored lower-cased and IDNA-encoded (xn--...), belongs to one
  tenant (the table's unique key), is not the platform's inbound domain, and
  is refused while another tenant has accounts or inbound addresses on it;
- a catch-all account is an active account of the domain's own tenant.
Ingest's recipient directory reads these tables (through its cache, so a
change takes effect within its TTL).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import idna
from postdesk_runtime.db import Sessions
from postdesk_schema import EmailAccount, InboundAddress, InboundDomain, Tenant
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

DEFAULT_INBOUND_DOMAIN = "in.postdesk.localhost"
RANDOM_CHARS = 10
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_MAX_LOCAL_PART = 64  # RFC 5321
_MAX_SLUG = _MAX_LOCAL_PART - RANDOM_CHARS - 1


class InboundConfigError(ValueError):
    """A request the rules refuse; str(error) says why, for the user."""


@dataclass(frozen=True)
class AddressView:
    address: str
    tenant_slug: str
    account: str
    is_active: bool


@dataclass(frozen=True)
class DomainView:
    domain: str
    tenant_slug: str
    catch_all: str | None


def normalise_domain(raw: str) -> str:
    """A domain as stored: lower-cased ASCII (IDNA), no trailing dot; InboundConfigError if invalid."""
    text = raw.strip().removesuffix(".")
    if not text or any(c.isspace() or c in "@/\\:" for c in text):
        raise InboundConfigError(f"not a domain name: {raw!r}")
    try:
        ascii_domain = idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as error:
        raise InboundConfigError(f"not a domain name: {raw!r} ({error})") from error
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or len(labels) < 2:
        raise InboundConfigError(f"not a domain name: {raw!r} (needs at least two labels)")
    if not all(_LABEL.match(label) for label in labels):
        raise InboundConfigError(f"not a domain name: {raw!r}")
    if labels[-1].isdigit():
        raise InboundConfigError(f"not a domain name: {raw!r} (an IP address is not a domain)")
    return ascii_domain


def slug_part(slug: str) -> str:
    """The tenant slug as the start of a local part: [a-z0-9-], short enough for 64 characters."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", slug.lower()).strip("-")
    return cleaned[:_MAX_SLUG].rstrip("-") or "tenant"


def generate_address(slug: str, domain: str) -> str:
    """A fresh unguessable address for a tenant: <slug>-<10 random base32 chars>@<domain>."""
    token = "".join(secrets.choice(_BASE32) for _ in range(RANDOM_CHARS))
    return f"{slug_part(slug)}-{token}@{domain}"


def _normalise_address(address: str) -> str:
    return address.strip().removeprefix("<").removesuffix(">").strip().lower()


async def _tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = (
        await session.scalars(select(Tenant).where(col(Tenant.slug) == slug.strip().lower()))
    ).first()
    if tenant is None:
        raise InboundConfigError(f"no tenant with slug {slug!r}")
    return tenant


async def _active_account(session: AsyncSession, email: str) -> EmailAccount:
    address = _normalise_address(email)
    account = (
        await session.scalars(select(EmailAccount).where(col(EmailAccount.address) == address))
    ).first()
    if account is None:
        raise InboundConfigError(f"no email account {address}")
    if not account.is_active:
        raise InboundConfigError(f"email account {address} is inactive")
    return account


async def _domain_owner(session: AsyncSession, domain: str) -> Tenant | None:
    return (
        await session.scalars(
            select(Tenant)
            .join(InboundDomain, col(InboundDomain.tenant_id) == col(Tenant.id))
            .where(col(InboundDomain.domain) == domain)
        )
    ).first()


async def create_address(
    session: AsyncSession,
    account: EmailAccount,
    tenant: Tenant,
    *,
    domain: str | None = None,
    platform_domain: str = DEFAULT_INBOUND_DOMAIN,
) -> InboundAddress:
    """Add a generated address for `account` (of `tenant`) in the caller's transaction.

    The domain is the platform's inbound domain (the default) or one of the tenant's own.
    """
    platform = normalise_domain(platform_domain)
    domain = normalise_domain(domain) if domain is not None else platform
    if domain != platform:
        owner = await _domain_owner(session, domain)
        if owner is None:
            raise InboundConfigError(
                f"domain {domain} is neither {platform} nor a domain of tenant {tenant.slug}"
                " (add it with `postdesk inbound domain add`)"
            )
        if owner.id != tenant.id:
            raise InboundConfigError(f"domain {domain} belongs to another tenant ({owner.slug})")
    for _ in range(3):  # 50 random bits: a clash is only theoretical, but never reuse an address
        candidate = generate_address(tenant.slug, domain)
        taken = await session.scalar(
            select(func.count())
            .select_from(InboundAddress)
            .where(col(InboundAddress.address) == candidate)
        )
        if not taken:
            row = InboundAddress(tenant_id=tenant.id, address=candidate, account_id=account.id)
            session.add(row)
            await session.flush()
            return row
    raise InboundConfigError("could not generate an unused address; try again")


async def add_address(
    sessions: Sessions,
    account_email: str,
    *,
    domain: str | None = None,
    platform_domain: str = DEFAULT_INBOUND_DOMAIN,
) -> AddressView:
    """Generate and store an inbound address delivering to an active account (see create_address)."""
    async with sessions() as session, session.begin():
        account = await _active_account(session, account_email)
        tenant = await session.get_one(Tenant, account.tenant_id)
        row = await create_address(
            session, account, tenant, domain=domain, platform_domain=platform_domain
        )
        return AddressView(row.address, tenant.slug, account.address, row.is_active)


async def list_addresses(sessions: Sessions, tenant_slug: str | None = None) -> list[AddressView]:
    """Inbound addresses (of one tenant, or all), by tenant then address."""
    async with sessions() as session:
        query = (
            select(InboundAddress, col(Tenant.slug), col(EmailAccount.address))
            .join(Tenant, col(Tenant.id) == col(InboundAddress.tenant_id))
            .join(EmailAccount, col(EmailAccount.id) == col(InboundAddress.account_id))
            .order_by(col(Tenant.slug), col(InboundAddress.address))
        )
        if tenant_slug is not None:
            tenant = await _tenant_by_slug(session, tenant_slug)
            query = query.where(col(InboundAddress.tenant_id) == tenant.id)
        rows = (await session.execute(query)).all()
    return [AddressView(row[0].address, row[1], row[2], row[0].is_active) for row in rows]


async def disable_address(sessions: Sessions, address: str) -> bool:
    """Stop accepting mail for an inbound address; False if it was disabled already."""
    wanted = _normalise_address(address)
    async with sessions() as session, session.begin():
        row = (
            await session.scalars(
                select(InboundAddress).where(col(InboundAddress.address) == wanted)
            )
        ).first()
        if row is None:
            raise InboundConfigError(f"no inbound address {wanted}")
        was_active = row.is_active
        row.is_active = False
        return was_active


async def add_domain(
    sessions: Sessions,
    domain: str,
    tenant_slug: str,
    *,
    catch_all: str | None = None,
    platform_domain: str = DEFAULT_INBOUND_DOMAIN,
) -> DomainView:
    """Give `domain` to a tenant, optionally with a catch-all account of that tenant."""
    name = normalise_domain(domain)
    if name == normalise_domain(platform_domain):
        raise InboundConfigError(f"{name} is the shared inbound domain; it cannot be a tenant's")
    async with sessions() as session, session.begin():
        tenant = await _tenant_by_slug(session, tenant_slug)
        owner = await _domain_owner(session, name)
        if owner is not None:
            whose = "this tenant" if owner.id == tenant.id else f"another tenant ({owner.slug})"
            raise InboundConfigError(f"domain {name} is already registered to {whose}")
        await _refuse_others_on_domain(session, name, tenant)
        account_id = None
        if catch_all is not None:
            account = await _active_account(session, catch_all)
            if account.tenant_id != tenant.id:
                raise InboundConfigError(
                    f"catch-all account {account.address} belongs to another tenant"
                )
            account_id = account.id
        session.add(
            InboundDomain(tenant_id=tenant.id, domain=name, catch_all_account_id=account_id)
        )
        try:
            await session.flush()
        except IntegrityError as error:  # registered concurrently since the check above
            raise InboundConfigError(f"domain {name} is already registered") from error
        return DomainView(name, tenant.slug, _normalise_address(catch_all) if catch_all else None)


async def _refuse_others_on_domain(session: AsyncSession, domain: str, tenant: Tenant) -> None:
    """Another tenant's accounts or inbound addresses on `domain` would be shadowed or exposed."""
    suffix = "%@" + domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    other_account = await session.scalar(
        select(col(EmailAccount.address))
        .where(
            col(EmailAccount.address).like(suffix, escape="\\"),
            col(EmailAccount.tenant_id) != tenant.id,
        )
        .limit(1)
    )
    other_inbound = await session.scalar(
        select(col(InboundAddress.address))
        .where(
            col(InboundAddress.address).like(suffix, escape="\\"),
            col(InboundAddress.tenant_id) != tenant.id,
        )
        .limit(1)
    )
    if other := other_account or other_inbound:
        raise InboundConfigError(f"another tenant receives mail on {domain} ({other})")


async def list_domains(sessions: Sessions) -> list[DomainView]:
    """Every tenant domain, by domain."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(col(InboundDomain.domain), col(Tenant.slug), col(EmailAccount.address))
                .join(Tenant, col(Tenant.id) == col(InboundDomain.tenant_id))
                .outerjoin(
                    EmailAccount,
                    col(EmailAccount.id) == col(InboundDomain.catch_all_account_id),
                )
                .order_by(col(InboundDomain.domain))
            )
        ).all()
    return [DomainView(row[0], row[1], row[2]) for row in rows]


async def remove_domain(sessions: Sessions, domain: str) -> DomainView:
    """Take a domain from its tenant (its mail is then refused unless an account matches)."""
    name = normalise_domain(domain)
    async with sessions() as session, session.begin():
        owner = await _domain_owner(session, name)
        if owner is None:
            raise InboundConfigError(f"domain {name} is not registered")
        await session.execute(delete(InboundDomain).where(col(InboundDomain.domain) == name))
        return DomainView(name, owner.slug, None)


__all__ = [
    "DEFAULT_INBOUND_DOMAIN",
    "AddressView",
    "DomainView",
    "InboundConfigError",
    "add_address",
    "add_domain",
    "create_address",
    "disable_address",
    "generate_address",
    "list_addresses",
    "list_domains",
    "normalise_domain",
    "remove_domain",
]
