"""Address conventions every service applies the same way.

Addresses in events and tables are stripped of angle brackets and
lower-cased. Plus-addressing (cs+orders@acme.example) delivers to the
untagged mailbox (cs@acme.example).
"""

from __future__ import annotations

import uuid


def normalise_address(address: str) -> str:
    """An address as stored: stripped, without angle brackets, lower-cased."""
    return address.strip().removeprefix("<").removesuffix(">").strip().lower()


def domain_of(address: str) -> str:
    """The part after the last "@", or "" when there is none."""
    _, at, domain = address.rpartition("@")
    return domain if at else ""


def without_plus(address: str) -> str | None:
    """The address with its "+tag" removed (cs+x@d -> cs@d); None when it has no tag."""
    local, at, domain = address.rpartition("@")
    base, plus, _ = local.partition("+")
    if not at or not plus or not base:
        return None
    return f"{base}@{domain}"


def outbound_message_id(outbound_id: uuid.UUID, domain: str) -> str:
    """The Message-ID of an outbound mail whose request named none (no angle brackets)."""
    return f"{outbound_id.hex}@{domain or 'postdesk.invalid'}"


def outbound_message_row_id(outbound_id: uuid.UUID) -> uuid.UUID:
    """The id of the `messages` row the router stores an outbound mail under.

    Derived from the request, so the requester knows it before the router
    records the mail: a ticket the gateway opens by composing names it as
    ticket.created's `first_message_id`.
    """
    return uuid.uuid5(outbound_id, "message")
