"""Ingest settings: the shared service settings plus the webhook's secret and size cap."""

from __future__ import annotations

from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator

from postdesk_ingest.imap.settings import ImapSettings
from postdesk_ingest.maildir import MaildirSettings
from postdesk_ingest.providers.settings import ProviderSettings
from postdesk_ingest.ratelimit import RateLimitSettings
from postdesk_ingest.smtp_settings import ListenerSettings

PLACEHOLDER_WEBHOOK_SECRET = "dev-webhook-secret"  # noqa: S105  # the development placeholder, refused in production


# SMTP/LMTP options: smtp_settings.py; provider secrets: providers/settings.py; rates: ratelimit.py
class IngestSettings(ProviderSettings, RateLimitSettings, ListenerSettings, MaildirSettings):
    http_port: int = 8001
    imap: ImapSettings = Field(
        default_factory=ImapSettings,
        description="IMAP polling, env INGEST_IMAP_* (imap/settings.py)",
    )
    webhook_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_WEBHOOK_SECRET),
        validation_alias=AliasChoices("INGEST_WEBHOOK_SECRET", "webhook_secret"),
        description="HMAC-SHA256 key shared with the webhook's senders",
    )
    max_message_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1,
        validation_alias=AliasChoices("INGEST_MAX_MESSAGE_BYTES", "max_message_bytes"),
        description="largest message accepted on any channel (webhook 413, SMTP SIZE)",
    )
    replay_window_seconds: int = Field(
        default=300,
        ge=1,
        validation_alias=AliasChoices("INGEST_REPLAY_WINDOW_SECONDS", "replay_window_seconds"),
        description="accepted age of a webhook's X-Postdesk-Timestamp",
    )
    publish_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices("INGEST_PUBLISH_TIMEOUT_SECONDS", "publish_timeout_seconds"),
        description="how long a request waits for the broker's confirm before answering 503",
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Self:
        self.refuse_placeholder(
            "INGEST_WEBHOOK_SECRET",
            self.webhook_secret.get_secret_value(),
            PLACEHOLDER_WEBHOOK_SECRET,
        )
        return self
