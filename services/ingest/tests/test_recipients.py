"""The recipient directory's rules and cache, without a database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from postdesk_ingest.recipients import (
    Known,
    RecipientDirectory,
    Resolution,
    Rule,
    Target,
    lookup_keys,
    resolve,
    single_tenant,
)
from postdesk_ingest.service import UnavailableError

ACME = uuid.uuid4()
OTHER = uuid.uuid4()
CS = Target(ACME, uuid.uuid4())
CATCH = Target(ACME, uuid.uuid4())
GEN = Target(OTHER, uuid.uuid4())
KNOWN = Known(
    accounts={"cs@acme.example": CS},
    inbound_addresses={"tenant-7f3a@in.postdesk.example": GEN},
    catch_alls={"catchall.example": CATCH},
)


class TestRules:
    def test_lookup_keys(self) -> None:
        """Lookups ask for each address, its base without a tag, and each domain, once."""
        assert lookup_keys(["cs+a@acme.example", "cs@acme.example", "x@b.example"]) == (
            ["cs+a@acme.example", "cs@acme.example", "x@b.example"],
            ["acme.example", "b.example"],
        )

    @pytest.mark.parametrize(
        ("address", "target", "rule"),
        [
            ("cs@acme.example", CS, Rule.ACCOUNT),
            ("cs+orders@acme.example", CS, Rule.ACCOUNT),
            ("tenant-7f3a@in.postdesk.example", GEN, Rule.INBOUND_ADDRESS),
            ("tenant-7f3a+x@in.postdesk.example", GEN, Rule.INBOUND_ADDRESS),
            ("anyone@catchall.example", CATCH, Rule.CATCH_ALL),
            ("anyone+x@catchall.example", CATCH, Rule.CATCH_ALL),
            ("nobody@acme.example", None, None),
            ("cs@sub.acme.example", None, None),
            ("no-at-sign", None, None),
        ],
    )
    def test_resolve(self, address: str, target: Target | None, rule: Rule | None) -> None:
        """Exact account, inbound address, plus-stripped base, then domain catch-all; else unknown."""
        assert resolve(address, KNOWN) == Resolution(address, target, rule)

    def test_exact_address_wins_over_catch_all(self) -> None:
        """An account of a catch-all domain receives its own mail."""
        known = Known(accounts={"cs@catchall.example": CS}, catch_alls={"catchall.example": CATCH})
        assert resolve("cs@catchall.example", known).target == CS
        assert resolve("cs+x@catchall.example", known).target == CS

    def test_single_tenant(self) -> None:
        """The tenant is named only when every known recipient belongs to the same one."""
        acme = [Resolution("a", CS), Resolution("b", CATCH), Resolution("c")]
        assert single_tenant(acme) == ACME
        assert single_tenant([*acme, Resolution("d", GEN)]) is None
        assert single_tenant([Resolution("c")]) is None


class CountingDirectory(RecipientDirectory):
    """The directory with its database load replaced by a fixed `Known` and a call log."""

    def __init__(self, known: Known, clock: list[float], **options: float) -> None:
        super().__init__(
            sessions=None,  # type: ignore[arg-type]  # never used: _load is replaced
            clock=lambda: clock[0],
            **options,  # type: ignore[arg-type]  # only float options are passed
        )
        self.known = known
        self.loads: list[list[str]] = []
        self.fail = False

    async def _load(self, addresses: Sequence[str]) -> Known:
        if self.fail:
            raise UnavailableError("database")
        self.loads.append(list(addresses))
        return self.known


class TestCache:
    async def test_known_answers_are_cached_for_the_ttl(self) -> None:
        """A second lookup within the TTL does not load; after it, it loads again."""
        clock = [0.0]
        directory = CountingDirectory(KNOWN, clock, ttl_seconds=30, unknown_ttl_seconds=5)
        first = await directory.resolve(["CS@acme.example", "cs@acme.example"])
        assert list(first) == ["cs@acme.example"]
        clock[0] = 29.0
        assert (await directory.resolve_one("cs@acme.example")).known
        assert directory.loads == [["cs@acme.example"]]
        clock[0] = 31.0
        await directory.resolve_one("cs@acme.example")
        assert len(directory.loads) == 2

    async def test_unknown_answers_expire_sooner(self) -> None:
        """Unknown addresses are asked again after the shorter unknown TTL."""
        clock = [0.0]
        directory = CountingDirectory(KNOWN, clock, ttl_seconds=30, unknown_ttl_seconds=5)
        assert not (await directory.resolve_one("new@acme.example")).known
        clock[0] = 4.0
        await directory.resolve_one("new@acme.example")
        clock[0] = 6.0
        await directory.resolve_one("new@acme.example")
        assert directory.loads == [["new@acme.example"], ["new@acme.example"]]

    async def test_only_missing_addresses_are_loaded(self) -> None:
        """A batch with one cached address loads only the others."""
        clock = [0.0]
        directory = CountingDirectory(KNOWN, clock)
        await directory.resolve(["cs@acme.example"])
        await directory.resolve(["cs@acme.example", "x@catchall.example"])
        assert directory.loads == [["cs@acme.example"], ["x@catchall.example"]]

    async def test_size_is_bounded(self) -> None:
        """The least recently used address is forgotten beyond max_entries."""
        clock = [0.0]
        directory = CountingDirectory(KNOWN, clock, max_entries=2)
        for address in ("a@x.example", "b@x.example", "a@x.example", "c@x.example"):
            await directory.resolve_one(address)
        await directory.resolve_one("a@x.example")  # still cached (recently used)
        await directory.resolve_one("b@x.example")  # evicted: loads again
        assert [load[0] for load in directory.loads] == [
            "a@x.example",
            "b@x.example",
            "c@x.example",
            "b@x.example",
        ]

    async def test_database_failure_is_unavailable_and_not_cached(self) -> None:
        """A failed load raises UnavailableError and the next lookup tries again."""
        clock = [0.0]
        directory = CountingDirectory(KNOWN, clock)
        directory.fail = True
        with pytest.raises(UnavailableError):
            await directory.resolve_one("cs@acme.example")
        directory.fail = False
        assert (await directory.resolve_one("cs@acme.example")).known

    async def test_empty_input_needs_no_load(self) -> None:
        """No recipients resolve to nothing without touching the database."""
        directory = CountingDirectory(KNOWN, [0.0])
        assert await directory.resolve(["", "  "]) == {}
        assert directory.loads == []
