"""Provider webhook adapters: Mailgun, Postmark, SendGrid Inbound Parse, Cloudflare Email Workers.

Each adapter verifies its provider's own authentication, takes the raw
message and the envelope recipients out of the provider's payload, and
hands them to the one accept path (`postdesk_ingest.service.accept_raw_mail`).
See docs/ingest-webhooks.md.
"""

from __future__ import annotations

from postdesk_ingest.providers.cloudflare import receive_cloudflare
from postdesk_ingest.providers.common import Providers, too_many_requests
from postdesk_ingest.providers.mailgun import receive_mailgun
from postdesk_ingest.providers.postmark import receive_postmark
from postdesk_ingest.providers.replay import TokenLedger
from postdesk_ingest.providers.sendgrid import load_public_key, receive_sendgrid
from postdesk_ingest.providers.settings import ProviderSettings
from postdesk_ingest.ratelimit import RateLimiter

__all__ = [
    "PROVIDER_ROUTES",
    "ProviderSettings",
    "Providers",
    "build_providers",
    "too_many_requests",
]

PROVIDER_ROUTES = [receive_mailgun, receive_postmark, receive_sendgrid, receive_cloudflare]
TOKEN_TTL_MARGIN_SECONDS = 60


def build_providers(
    settings: ProviderSettings,
    limiter: RateLimiter,
    *,
    max_message_bytes: int,
    replay_window_seconds: int,
) -> Providers:
    """The provider routes' configuration; raises ValueError for an unusable SendGrid key."""
    return Providers(
        settings=settings,
        limiter=limiter,
        max_message_bytes=max_message_bytes,
        replay_window_seconds=replay_window_seconds,
        # a token older than twice the window fails on its timestamp anyway
        mailgun_tokens=TokenLedger(2 * replay_window_seconds + TOKEN_TTL_MARGIN_SECONDS),
        sendgrid_key=(
            load_public_key(settings.sendgrid_public_key) if settings.sendgrid_public_key else None
        ),
    )
