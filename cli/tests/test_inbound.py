"""Generated inbound addresses and tenant domains: the rules, and `postdesk inbound` as a process."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from postdesk_cli import inbound_rules as rules
from postdesk_ingest.recipients import RecipientDirectory, Rule
from postdesk_runtime import make_engine, make_sessions
from postdesk_runtime.db import Sessions
from postdesk_schema import EmailAccount, InboundAddress, InboundDomain, Tenant
from sqlalchemy import select
from sqlmodel import col

GENERATED = re.compile(r"^acme-[a-z2-7]{10}@in\.postdesk\.localhost$")
POSTDESK = Path(sys.executable).parent / "postdesk"


@dataclass(frozen=True)
class World:
    sessions: Sessions
    database_url: str


@pytest_asyncio.fixture(loop_scope="session")
async def world(private_database_url: str) -> AsyncIterator[World]:
    """Tenants acme (cs@, inactive old@) and globex (help@), on a database of the test's own."""
    engine = make_engine(private_database_url, pool_size=2)
    sessions = make_sessions(engine)
    async with sessions() as session, session.begin():
        acme = Tenant(name="Acme", slug="acme")
        globex = Tenant(name="Globex", slug="globex")
        session.add_all([acme, globex])
        await session.flush()
        session.add_all(
            [
                EmailAccount(tenant_id=acme.id, address="cs@acme.example"),
                EmailAccount(tenant_id=acme.id, address="old@acme.example", is_active=False),
                EmailAccount(tenant_id=globex.id, address="help@globex.example"),
            ]
        )
    yield World(sessions, private_database_url)
    await engine.dispose()


async def resolve(sessions: Sessions, address: str) -> tuple[Rule | None, str | None]:
    """What ingest's recipient directory (uncached) says about an address: rule and account."""
    resolution = await RecipientDirectory(
        sessions, ttl_seconds=0, unknown_ttl_seconds=0
    ).resolve_one(address)
    if resolution.target is None:
        return None, None
    async with sessions() as session:
        account = await session.get_one(EmailAccount, resolution.target.account_id)
    return resolution.rule, account.address


class TestRules:
    @pytest.mark.parametrize(
        ("raw", "stored"),
        [
            ("ACME.Example", "acme.example"),
            (" support.acme.example. ", "support.acme.example"),
            ("Bücher.Example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ],
    )
    def test_domains_are_lower_cased_and_idna_encoded(self, raw: str, stored: str) -> None:
        """Case, surrounding space and a trailing dot go; Unicode labels become xn-- labels."""
        assert rules.normalise_domain(raw) == stored

    @pytest.mark.parametrize(
        "raw",
        ["a..b", "acme .example", "", "localhost", "cs@acme.example", "-acme.example",
         "acme_x.example", "1.2.3.4", "a" * 64 + ".example", "http://acme.example"],
    )  # fmt: skip
    def test_garbage_domains_are_refused(self, raw: str) -> None:
        """Empty labels, spaces, single labels, addresses, IPs, long labels and URLs are no domains."""
        with pytest.raises(rules.InboundConfigError, match="not a domain name"):
            rules.normalise_domain(raw)

    def test_generated_addresses_are_slug_dash_ten_base32_chars_and_differ(self) -> None:
        """Each call gives a new <slug>-<10 base32>@domain; a long or odd slug is cut to fit 64."""
        made = {rules.generate_address("acme", "in.postdesk.localhost") for _ in range(200)}
        assert len(made) == 200
        assert all(GENERATED.match(a) for a in made)
        local = rules.generate_address("Big Corp!" * 20, "d.example").split("@")[0]
        assert len(local) <= 64
        assert re.fullmatch(r"big-corp-[a-z0-9-]*[a-z0-9]-[a-z2-7]{10}", local)


@pytest.mark.integration
class TestAddresses:
    async def test_add_stores_an_address_that_ingest_delivers_to_the_account(
        self, world: World
    ) -> None:
        """A generated address is stored for the account's tenant and resolves to the account."""
        view = await rules.add_address(world.sessions, " CS@acme.example ")
        assert GENERATED.match(view.address)
        assert (view.tenant_slug, view.account, view.is_active) == ("acme", "cs@acme.example", True)
        async with world.sessions() as session:
            row = (
                await session.scalars(
                    select(InboundAddress).where(col(InboundAddress.address) == view.address)
                )
            ).one()
            tenant = await session.get_one(Tenant, row.tenant_id)
        assert tenant.slug == "acme"
        assert await resolve(world.sessions, view.address) == (
            Rule.INBOUND_ADDRESS,
            "cs@acme.example",
        )

    async def test_unknown_and_inactive_accounts_are_refused(self, world: World) -> None:
        """No address is made for an account that does not exist or is inactive."""
        with pytest.raises(rules.InboundConfigError, match="no email account nobody@acme"):
            await rules.add_address(world.sessions, "nobody@acme.example")
        with pytest.raises(rules.InboundConfigError, match=r"old@acme\.example is inactive"):
            await rules.add_address(world.sessions, "old@acme.example")
        assert await rules.list_addresses(world.sessions) == []

    async def test_domain_must_be_the_platform_one_or_the_tenants_own(self, world: World) -> None:
        """--domain takes the tenant's own domain; another tenant's or an unknown one is refused."""
        await rules.add_domain(world.sessions, "mail.acme.example", "acme")
        await rules.add_domain(world.sessions, "globex.example", "globex")
        own = await rules.add_address(world.sessions, "cs@acme.example", domain="MAIL.acme.example")
        assert re.fullmatch(r"acme-[a-z2-7]{10}@mail\.acme\.example", own.address)
        with pytest.raises(rules.InboundConfigError, match="belongs to another tenant"):
            await rules.add_address(world.sessions, "cs@acme.example", domain="globex.example")
        with pytest.raises(rules.InboundConfigError, match=r"neither in\.postdesk\.localhost nor"):
            await rules.add_address(world.sessions, "cs@acme.example", domain="gmail.com")
        custom = await rules.add_address(
            world.sessions, "help@globex.example", platform_domain="in.example.net"
        )
        assert custom.address.endswith("@in.example.net")

    async def test_list_filters_by_tenant_and_disable_stops_delivery(self, world: World) -> None:
        """Disabling an address keeps its row (inactive) and ingest stops resolving it."""
        acme = await rules.add_address(world.sessions, "cs@acme.example")
        globex = await rules.add_address(world.sessions, "help@globex.example")
        assert [v.address for v in await rules.list_addresses(world.sessions)] == [
            acme.address,
            globex.address,
        ]
        assert await rules.list_addresses(world.sessions, "globex") == [globex]
        with pytest.raises(rules.InboundConfigError, match="no tenant with slug 'nope'"):
            await rules.list_addresses(world.sessions, "nope")

        assert await rules.disable_address(world.sessions, acme.address.upper()) is True
        assert await rules.disable_address(world.sessions, acme.address) is False
        assert await resolve(world.sessions, acme.address) == (None, None)
        listed = await rules.list_addresses(world.sessions, "acme")
        assert [(v.address, v.is_active) for v in listed] == [(acme.address, False)]
        with pytest.raises(rules.InboundConfigError, match="no inbound address"):
            await rules.disable_address(world.sessions, "acme-aaaaaaaaaa@in.postdesk.localhost")


@pytest.mark.integration
class TestDomains:
    async def test_catch_all_domain_delivers_unknown_addresses_to_its_account(
        self, world: World
    ) -> None:
        """A tenant domain with a catch-all makes any address there the catch-all account's."""
        view = await rules.add_domain(
            world.sessions, "Support.Acme.Example", "acme", catch_all="cs@acme.example"
        )
        assert view == rules.DomainView("support.acme.example", "acme", "cs@acme.example")
        await rules.add_domain(world.sessions, "globex.example", "globex")
        assert await rules.list_domains(world.sessions) == [
            rules.DomainView("globex.example", "globex", None),
            view,
        ]
        assert await resolve(world.sessions, "anyone@support.acme.example") == (
            Rule.CATCH_ALL,
            "cs@acme.example",
        )
        assert await resolve(world.sessions, "anyone@globex.example") == (None, None)

        removed = await rules.remove_domain(world.sessions, "support.acme.example")
        assert removed.tenant_slug == "acme"
        assert await resolve(world.sessions, "anyone@support.acme.example") == (None, None)
        with pytest.raises(rules.InboundConfigError, match="is not registered"):
            await rules.remove_domain(world.sessions, "support.acme.example")

    async def test_ownership_conflicts_are_refused(self, world: World) -> None:
        """A domain is one tenant's; another's accounts, catch-all or the platform domain block it."""
        await rules.add_domain(world.sessions, "acme.example", "acme")
        with pytest.raises(rules.InboundConfigError, match=r"another tenant \(acme\)"):
            await rules.add_domain(world.sessions, "ACME.example", "globex")
        with pytest.raises(rules.InboundConfigError, match="already registered to this tenant"):
            await rules.add_domain(world.sessions, "acme.example", "acme")
        with pytest.raises(rules.InboundConfigError, match="another tenant receives mail on"):
            await rules.add_domain(world.sessions, "globex.example", "acme")
        with pytest.raises(rules.InboundConfigError, match="belongs to another tenant"):
            await rules.add_domain(
                world.sessions, "help.globex.example", "globex", catch_all="cs@acme.example"
            )
        with pytest.raises(rules.InboundConfigError, match="is inactive"):
            await rules.add_domain(
                world.sessions, "old.acme.example", "acme", catch_all="old@acme.example"
            )
        with pytest.raises(rules.InboundConfigError, match="shared inbound domain"):
            await rules.add_domain(world.sessions, "In.Postdesk.Localhost", "acme")
        with pytest.raises(rules.InboundConfigError, match="no tenant with slug"):
            await rules.add_domain(world.sessions, "new.example", "initech")
        assert [v.domain for v in await rules.list_domains(world.sessions)] == ["acme.example"]


async def postdesk(database_url: str, *args: str) -> tuple[int, str, str]:
    """Run the installed `postdesk` console script; its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        POSTDESK,
        *args,
        env=os.environ | {"DATABASE_URL": database_url, "INBOUND_DOMAIN": "In.Example.Net"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.integration
async def test_console_script_adds_addresses_and_domains_and_refuses_with_exit_2(
    world: World,
) -> None:
    """`postdesk inbound` prints what it stored; each refusal is a one-line error and exit code 2."""
    code, out, err = await postdesk(
        world.database_url, "inbound", "address", "add", "cs@acme.example"
    )
    assert code == 0, err
    assert re.fullmatch(r"acme-[a-z2-7]{10}@in\.example\.net\n", out)
    printed = out
    assert "delivers to cs@acme.example (tenant acme)" in err
    code, out, err = await postdesk(
        world.database_url, "inbound", "domain", "add", "Acme.Example", "--tenant", "acme",
        "--catch-all", "cs@acme.example",
    )  # fmt: skip
    assert code == 0, err
    assert out == "domain acme.example added to tenant acme, catch-all cs@acme.example\n"
    async with world.sessions() as session:
        address = (await session.scalars(select(InboundAddress))).one()
        domain = (await session.scalars(select(InboundDomain))).one()
        cs = (
            await session.scalars(
                select(EmailAccount).where(col(EmailAccount.address) == "cs@acme.example")
            )
        ).one()
    assert (address.address, address.account_id, address.tenant_id) == (
        printed.strip(),
        cs.id,
        cs.tenant_id,
    )
    assert (domain.domain, domain.tenant_id, domain.catch_all_account_id) == (
        "acme.example",
        cs.tenant_id,
        cs.id,
    )

    refusals = await asyncio.gather(
        postdesk(world.database_url, "inbound", "address", "add", "nobody@acme.example"),
        postdesk(
            world.database_url, "inbound", "domain", "add", "help.globex.example",
            "--tenant", "globex", "--catch-all", "cs@acme.example",
        ),
        postdesk(world.database_url, "inbound", "domain", "add", "acme.example", "--tenant", "globex"),
        postdesk(world.database_url, "inbound", "domain", "add", "a..b", "--tenant", "acme"),
    )  # fmt: skip
    expected = [
        "error: no email account nobody@acme.example",
        "error: catch-all account cs@acme.example belongs to another tenant",
        "error: domain acme.example is already registered to another tenant (acme)",
        "error: not a domain name: 'a..b'",
    ]
    for (code, out, err), message in zip(refusals, expected, strict=True):
        assert (code, out) == (2, ""), err
        assert err.startswith(message), err
    code, out, _ = await postdesk(world.database_url, "inbound", "domain", "list")
    assert out == "acme.example\tacme\tcs@acme.example\n"
