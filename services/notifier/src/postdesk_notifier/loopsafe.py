"""Whether an email to a user's address would come back into postdesk as new mail.

The notifier sends notifications and digests to users' login addresses
(users.email). An address that postdesk itself receives for would turn each
notification into a ticket, whose assignment notifies again: a mail loop.
Refused are, across every tenant (a loop goes through any postdesk
mailbox, not only the sender's tenant's):
- the address of an email account, active or not (an inactive account's
  mail still reaches postdesk's MX and is refused or parked there);
- a generated inbound address;
- any address at an inbound domain (catch-all or not: the domain's MX is
  postdesk);
- a plus-tagged form of an account or inbound address (`cs+x@d`, which is
  also the form of reply-token addresses `cs+<token>@d`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from postdesk_contracts.addressing import domain_of, normalise_address, without_plus
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_POSTDESK_ADDRESSES = text(
    """
    SELECT 'account' AS what, address AS found, tenant_id FROM email_accounts
     WHERE address = ANY(CAST(:addresses AS text[]))
    UNION ALL
    SELECT 'inbound address', address, tenant_id FROM inbound_addresses
     WHERE address = ANY(CAST(:addresses AS text[]))
    UNION ALL
    SELECT 'inbound domain', domain, tenant_id FROM inbound_domains
     WHERE domain = ANY(CAST(:domains AS text[]))
    """
)
_PRECEDENCE = ("account", "inbound address", "inbound domain")


async def loop_risk(session: AsyncSession, tenant_id: uuid.UUID, address: str) -> str | None:
    """Why mailing `address` would loop into postdesk, or None when it is safe to mail.

    `tenant_id` is the sending tenant; it only words the reason (the check spans all
    tenants). An empty or malformed address is refused as well: there is nowhere to send."""
    return (await loop_risks(session, tenant_id, [address]))[address]


async def loop_risks(
    session: AsyncSession, tenant_id: uuid.UUID, addresses: Sequence[str]
) -> dict[str, str | None]:
    """`loop_risk` of each address, in one query."""
    keys: dict[str, tuple[str, str, str | None]] = {}
    for address in addresses:
        normalised = normalise_address(address)
        domain = domain_of(normalised)
        if domain and not normalised.startswith("@"):
            keys[address] = (normalised, domain, without_plus(normalised))
    rows: Sequence[Any] = ()
    if keys:
        lookups = {k for normalised, _, untagged in keys.values() for k in (normalised, untagged)}
        rows = (
            await session.execute(
                _POSTDESK_ADDRESSES,
                {
                    "addresses": sorted(k for k in lookups if k),
                    "domains": sorted({domain for _, domain, _ in keys.values()}),
                },
            )
        ).all()
    risks: dict[str, str | None] = {}
    for address in addresses:
        if address not in keys:
            risks[address] = f"{address!r} is not a deliverable address"
            continue
        normalised, domain, untagged = keys[address]
        hits = [
            r
            for r in rows
            if (r.what == "inbound domain" and r.found == domain)
            or (r.what != "inbound domain" and r.found in (normalised, untagged))
        ]
        risks[address] = _reason(normalised, tenant_id, hits) if hits else None
    return risks


def _reason(normalised: str, tenant_id: uuid.UUID, hits: Sequence[Any]) -> str:
    row = min(hits, key=lambda r: _PRECEDENCE.index(r.what))
    whose = "this tenant's" if row.tenant_id == tenant_id else "another tenant's"
    if row.what == "inbound domain":
        return f"{normalised} is at {whose} inbound domain {row.found}"
    if row.found != normalised:
        return f"{normalised} is a plus/reply-token form of {whose} {row.what} {row.found}"
    return f"{normalised} is {whose} {row.what}"
