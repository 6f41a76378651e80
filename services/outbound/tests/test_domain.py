"""The outbound service's pure rules."""

from __future__ import annotations

from postdesk_outbound.domain import (
    NO_SMTP_REASON,
    Delivery,
    OutboundStatus,
    decide_delivery,
    smtp_configured,
)


def test_smtp_is_configured_only_with_a_host() -> None:
    """settings["smtp"] counts only as a mapping naming a host."""
    assert smtp_configured({"smtp": {"host": "mail.acme.example", "port": 587}})
    assert not smtp_configured({})
    assert not smtp_configured({"smtp": {}})
    assert not smtp_configured({"smtp": {"host": "  "}})
    assert not smtp_configured({"smtp": "mail.acme.example"})


def test_no_smtp_fails_permanently_with_reason() -> None:
    """Without SMTP settings the request fails permanently, saying so."""
    assert decide_delivery({}) == Delivery(OutboundStatus.FAILED, NO_SMTP_REASON, permanent=True)
    assert NO_SMTP_REASON == "no outbound SMTP server configured for this tenant"


def test_configured_smtp_is_not_faked() -> None:
    """With SMTP settings nothing is claimed as sent: a non-permanent failure says sending is not available."""
    delivery = decide_delivery({"smtp": {"host": "mail.acme.example"}})
    assert delivery.status is OutboundStatus.FAILED
    assert not delivery.permanent
    assert "not implemented" in delivery.failure_reason
