"""The recipient directory: is an address ours, and for which tenant?

Rules, in order, on the lower-cased address (`resolve`, pure):
1. an active email account with exactly this address;
2. an active inbound address (tenant-7f3a@in.postdesk.example) whose account is active;
3. the same two with plus-addressing removed (cs+orders@acme.example -> cs@acme.example);
4. the address's domain is an inbound domain of a tenant with an active catch-all account.
A known domain without a catch-all does not make its addresses known.

`RecipientDirectory` answers from a short-lived, bounded cache in front of
the database, so an SMTP RCPT check does not query the database each time.
Unknown answers live shorter than known ones: a new address is refused
(a permanent 550) for a few seconds at most.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from postdesk_contracts.addressing import domain_of, normalise_address, without_plus
from postdesk_runtime.db import Sessions
from sqlalchemy.exc import SQLAlchemyError

from postdesk_ingest import recipients_db
from postdesk_ingest.service import UnavailableError


class Rule(StrEnum):
    """Why an address is known."""

    ACCOUNT = "account"
    INBOUND_ADDRESS = "inbound-address"
    CATCH_ALL = "catch-all"


@dataclass(frozen=True)
class Target:
    """The account mail for an address goes to."""

    tenant_id: uuid.UUID
    account_id: uuid.UUID


@dataclass(frozen=True)
class Resolution:
    """What the directory knows about one address; `target` None means unknown."""

    address: str
    target: Target | None = None
    rule: Rule | None = None

    @property
    def known(self) -> bool:
        return self.target is not None


@dataclass(frozen=True)
class Known:
    """What the database holds for some addresses: the facts `resolve` decides on."""

    accounts: Mapping[str, Target] = field(default_factory=dict)
    inbound_addresses: Mapping[str, Target] = field(default_factory=dict)
    catch_alls: Mapping[str, Target] = field(default_factory=dict)


def lookup_keys(addresses: Iterable[str]) -> tuple[list[str], list[str]]:
    """The mailbox addresses and domains to look up to resolve `addresses` (normalised)."""
    mailboxes: dict[str, None] = {}
    domains: dict[str, None] = {}
    for address in addresses:
        mailboxes[address] = None
        if (base := without_plus(address)) is not None:
            mailboxes[base] = None
        if domain := domain_of(address):
            domains[domain] = None
    return list(mailboxes), list(domains)


def resolve(address: str, known: Known) -> Resolution:
    """Apply the rules of the module docstring to one normalised address."""
    for candidate in (address, without_plus(address)):
        if candidate is None:
            continue
        if candidate in known.accounts:
            return Resolution(address, known.accounts[candidate], Rule.ACCOUNT)
        if candidate in known.inbound_addresses:
            return Resolution(address, known.inbound_addresses[candidate], Rule.INBOUND_ADDRESS)
    domain = domain_of(address)
    if domain and domain in known.catch_alls:
        return Resolution(address, known.catch_alls[domain], Rule.CATCH_ALL)
    return Resolution(address)


def single_tenant(resolutions: Iterable[Resolution]) -> uuid.UUID | None:
    """The tenant of the known addresses when they all belong to one tenant, else None."""
    tenants = {r.target.tenant_id for r in resolutions if r.target is not None}
    return tenants.pop() if len(tenants) == 1 else None


def unknown_reason(unknown: Sequence[str]) -> str:
    """The recorded reason for mail none of whose recipients is known."""
    return "unknown recipients: " + ", ".join(unknown)


class RecipientDirectory:
    """Resolves addresses through a TTL cache of at most `max_entries` addresses.

    Errors: `UnavailableError("database")` when the database cannot answer.
    """

    def __init__(
        self,
        sessions: Sessions,
        *,
        ttl_seconds: float = 30.0,
        unknown_ttl_seconds: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._unknown_ttl = unknown_ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Resolution]] = OrderedDict()

    async def resolve(self, addresses: Iterable[str]) -> dict[str, Resolution]:
        """Each normalised address of `addresses` with what the directory knows about it."""
        wanted = list(
            dict.fromkeys(normalise_address(a) for a in addresses if normalise_address(a))
        )
        now = self._clock()
        found: dict[str, Resolution] = {}
        missing: list[str] = []
        for address in wanted:
            cached = self._cache.get(address)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(address)
                found[address] = cached[1]
            else:
                missing.append(address)
        if missing:
            known = await self._load(missing)
            for address in missing:
                resolution = resolve(address, known)
                found[address] = resolution
                self._remember(address, resolution, now)
        return {address: found[address] for address in wanted}

    async def resolve_one(self, address: str) -> Resolution:
        resolved = await self.resolve([address])
        return resolved.get(normalise_address(address), Resolution(normalise_address(address)))

    def clear(self) -> None:
        """Forget every cached answer (after a configuration change, and in tests)."""
        self._cache.clear()

    async def _load(self, addresses: Sequence[str]) -> Known:
        mailboxes, domains = lookup_keys(addresses)
        try:
            async with self._sessions() as session:
                accounts = await recipients_db.active_accounts(session, mailboxes)
                inbound = await recipients_db.active_inbound_addresses(session, mailboxes)
                domain_targets = await recipients_db.catch_alls(session, domains)
        except (SQLAlchemyError, OSError) as error:
            raise UnavailableError("database") from error
        return Known(
            accounts={k: Target(*v) for k, v in accounts.items()},
            inbound_addresses={k: Target(*v) for k, v in inbound.items()},
            catch_alls={k: Target(*v) for k, v in domain_targets.items()},
        )

    def _remember(self, address: str, resolution: Resolution, now: float) -> None:
        ttl = self._ttl if resolution.known else self._unknown_ttl
        self._cache[address] = (now + ttl, resolution)
        self._cache.move_to_end(address)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
