"""Which addresses would loop a notification back into postdesk (real PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from postdesk_notifier.loopsafe import loop_risk, loop_risks
from postdesk_runtime import Sessions
from postdesk_schema import EmailAccount, InboundAddress, InboundDomain, Tenant

pytestmark = pytest.mark.integration


async def test_postdesk_addresses_are_refused(sessions: Sessions) -> None:
    """Accounts (any tenant, active or not), their plus and reply-token forms, generated
    inbound addresses and inbound domains loop; a person's own mailbox does not."""
    suffix = uuid.uuid4().hex[:10]
    ours, theirs = (Tenant(name=f"{n} {suffix}", slug=f"{n}-{suffix}") for n in ("ours", "theirs"))
    account = EmailAccount(tenant_id=ours.id, address=f"cs-{suffix}@acme.example")
    retired = EmailAccount(tenant_id=ours.id, address=f"old-{suffix}@acme.example", is_active=False)
    foreign = EmailAccount(tenant_id=theirs.id, address=f"help-{suffix}@other.example")
    generated = InboundAddress(
        tenant_id=ours.id, address=f"t-{suffix}@in.postdesk.example", account_id=account.id
    )
    domain = InboundDomain(tenant_id=ours.id, domain=f"mail-{suffix}.example")
    async with sessions() as session, session.begin():
        for row in (ours, theirs, account, retired, foreign, generated, domain):
            session.add(row)
            await session.flush()

    async with sessions() as session:
        asked = [
            account.address,
            account.address.upper(),
            account.address.replace("@", "+a1b2c3@"),
            retired.address,
            foreign.address,
            generated.address.replace("@", "+x@"),
            f"anyone@mail-{suffix}.example",
            f"pat-{suffix}@acme.example",
            "not-an-address",
        ]
        together = await loop_risks(session, ours.id, asked)
        risks = {address: await loop_risk(session, ours.id, address) for address in asked}

    assert together == risks  # the batch answers as one address at a time does
    safe = f"pat-{suffix}@acme.example"
    assert risks.pop(safe) is None
    assert risks.pop("not-an-address") == "'not-an-address' is not a deliverable address"
    assert risks[account.address] == f"{account.address} is this tenant's account"
    assert risks[account.address.upper()] == risks[account.address]
    assert risks[account.address.replace("@", "+a1b2c3@")] == (
        f"{account.address.replace('@', '+a1b2c3@')} is a plus/reply-token form of "
        f"this tenant's account {account.address}"
    )
    assert risks[foreign.address] == f"{foreign.address} is another tenant's account"
    assert "inbound address" in (risks[generated.address.replace("@", "+x@")] or "")
    assert risks[f"anyone@mail-{suffix}.example"] == (
        f"anyone@mail-{suffix}.example is at this tenant's inbound domain mail-{suffix}.example"
    )
    assert all(reason is not None for reason in risks.values())
