"""A tenant's sending policy; defined in the contracts, where the gateway reads it too."""

from postdesk_contracts.outbound_policy import (
    DAY,
    MINUTE,
    OutboundPolicy,
    PolicyError,
    Quota,
    outbound_policy,
    usable_policy,
)

__all__ = [
    "DAY",
    "MINUTE",
    "OutboundPolicy",
    "PolicyError",
    "Quota",
    "outbound_policy",
    "usable_policy",
]
