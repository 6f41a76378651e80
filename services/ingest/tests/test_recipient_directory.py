"""The recipient directory against the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from postdesk_ingest.recipients import RecipientDirectory, Rule
from postdesk_runtime import make_engine, make_sessions

from .seeds import seed_directory

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def directory(database_url: str) -> AsyncIterator[RecipientDirectory]:
    engine = make_engine(database_url, pool_size=2)
    yield RecipientDirectory(make_sessions(engine), ttl_seconds=0, unknown_ttl_seconds=0)
    await engine.dispose()


async def test_directory_applies_every_rule(
    database_url: str, directory: RecipientDirectory
) -> None:
    """Accounts, inbound addresses, plus-addressing and catch-alls resolve to their tenant."""
    tag = uuid.uuid4().hex[:8]
    generated = f"tenant-{tag}@in.example"
    acme = await seed_directory(
        database_url,
        accounts=("cs", "all"),
        inactive_accounts=("gone",),
        inbound=[(generated, "cs")],
        inbound_domain=True,
        catch_all="all",
    )
    plain = await seed_directory(database_url, accounts=("support",), inbound_domain=True)

    resolved = await directory.resolve(
        [
            acme.at("CS"),
            acme.at("cs+orders"),
            generated.upper(),
            f"tenant-{tag}+x@in.example",
            acme.at("gone"),
            acme.at("whoever"),
            plain.at("support"),
            plain.at("whoever"),
            "x@unknown.example",
        ]
    )

    assert {a: (r.rule, r.target.tenant_id if r.target else None) for a, r in resolved.items()} == {
        acme.at("cs"): (Rule.ACCOUNT, acme.tenant_id),
        acme.at("cs+orders"): (Rule.ACCOUNT, acme.tenant_id),
        generated: (Rule.INBOUND_ADDRESS, acme.tenant_id),
        f"tenant-{tag}+x@in.example": (Rule.INBOUND_ADDRESS, acme.tenant_id),
        acme.at("gone"): (
            Rule.CATCH_ALL,
            acme.tenant_id,
        ),  # inactive account: the catch-all takes it
        acme.at("whoever"): (Rule.CATCH_ALL, acme.tenant_id),
        plain.at("support"): (Rule.ACCOUNT, plain.tenant_id),
        plain.at("whoever"): (None, None),  # known domain without catch-all
        "x@unknown.example": (None, None),
    }
    target = resolved[acme.at("cs")].target
    assert target is not None
    assert target.account_id == acme.accounts["cs"]


async def test_inactive_account_without_catch_all_is_unknown(
    database_url: str, directory: RecipientDirectory
) -> None:
    """A deactivated account, and inbound addresses pointing at it, no longer receive mail."""
    generated = f"tenant-{uuid.uuid4().hex[:8]}@in.example"
    seeded = await seed_directory(
        database_url, accounts=(), inactive_accounts=("old",), inbound=[(generated, "old")]
    )
    assert not (await directory.resolve_one(seeded.at("old"))).known
    assert not (await directory.resolve_one(generated)).known
