"""The router finds accounts by inbound address, plus-addressing and domain catch-all (real PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from postdesk_contracts import Address
from postdesk_router.service import RouteStatus, route_in_transaction
from postdesk_runtime import BlobStore, Sessions
from postdesk_schema import EmailAccount, InboundAddress, InboundDomain, Ticket
from sqlalchemy import select
from sqlmodel import col

from .factories import Seed, make_event, make_parsed, seed_tenant, store_body

pytestmark = pytest.mark.integration


async def add_rows(sessions: Sessions, *rows: object) -> None:
    async with sessions() as session, session.begin():
        for row in rows:
            session.add(row)
            await session.flush()


async def routed_account(sessions: Sessions, blobs: BlobStore, recipient: str) -> uuid.UUID | None:
    """Route a mail for `recipient`; the account of its new ticket, or None if rejected."""
    event = make_event(
        make_parsed(
            envelope_recipients=[recipient],
            to=[Address(email=recipient)],
            body_blob_ref=await store_body(blobs),
        )
    )
    outcome = await route_in_transaction(sessions, blobs, event)
    if outcome.status is RouteStatus.REJECTED:
        return None
    async with sessions() as session:
        ticket = (
            await session.scalars(select(Ticket).where(col(Ticket.id) == outcome.ticket_id))
        ).one()
    return ticket.account_id


async def seed_with_domain(sessions: Sessions, *, catch_all: bool) -> tuple[Seed, str, str]:
    """A seeded tenant plus its own inbound domain, an inbound address, and maybe a catch-all."""
    seed = await seed_tenant(sessions)
    domain = f"r{uuid.uuid4().hex[:10]}.example"
    generated = f"tenant-{uuid.uuid4().hex[:8]}@in.example"
    catch = EmailAccount(tenant_id=seed.tenant.id, address=f"all@{domain}")
    await add_rows(
        sessions,
        catch,
        InboundAddress(tenant_id=seed.tenant.id, address=generated, account_id=seed.account.id),
        InboundDomain(
            tenant_id=seed.tenant.id,
            domain=domain,
            catch_all_account_id=catch.id if catch_all else None,
        ),
    )
    return seed, domain, generated


async def test_inbound_address_and_plus_addressing_find_the_account(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """tenant-xxx@in... and cs-xxx+tag@... route to the account they deliver to."""
    seed, _, generated = await seed_with_domain(sessions, catch_all=False)
    local, domain = seed.address.split("@")
    assert await routed_account(sessions, blobs, generated) == seed.account.id
    assert await routed_account(sessions, blobs, f"{local}+orders@{domain}") == seed.account.id
    tagged = generated.replace("@", "+x@")
    assert await routed_account(sessions, blobs, tagged) == seed.account.id


async def test_catch_all_takes_unknown_addresses_of_its_domain(
    sessions: Sessions, blobs: BlobStore
) -> None:
    """With a catch-all, any address of the domain routes to it; without one, it is rejected."""
    seed, domain, _ = await seed_with_domain(sessions, catch_all=True)
    catch_id = await routed_account(sessions, blobs, f"whoever@{domain}")
    assert catch_id is not None
    assert catch_id != seed.account.id
    _, bare_domain, _ = await seed_with_domain(sessions, catch_all=False)
    assert await routed_account(sessions, blobs, f"whoever@{bare_domain}") is None
