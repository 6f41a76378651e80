"""The address conventions shared by ingest and the router."""

from __future__ import annotations

from postdesk_contracts.addressing import domain_of, normalise_address, without_plus


def test_normalise_address() -> None:
    """Addresses are stripped of blanks and angle brackets and lower-cased."""
    assert normalise_address("  <CS@Acme.Example> ") == "cs@acme.example"


def test_without_plus() -> None:
    """The first "+" ends the mailbox; untagged, tag-only and domainless addresses have no base."""
    assert without_plus("cs+orders+x@acme.example") == "cs@acme.example"
    assert without_plus("cs@acme.example") is None
    assert without_plus("+tag@acme.example") is None
    assert without_plus("nodomain+x") is None


def test_domain_of() -> None:
    """The domain is what follows the last "@"."""
    assert domain_of("a@b@acme.example") == "acme.example"
    assert domain_of("no-at-sign") == ""
