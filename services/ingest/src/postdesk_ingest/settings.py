"""Ingest settings: the shared service settings plus the webhook's secret and size cap."""

from __future__ import annotations

from typing import Self

from postdesk_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator

PLACEHOLDER_WEBHOOK_SECRET = "dev-webhook-secret"  # noqa: S105  # the development placeholder, refused in production


class IngestSettings(ServiceSettings):
    http_port: int = 8001
    webhook_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_WEBHOOK_SECRET),
        validation_alias=AliasChoices("INGEST_WEBHOOK_SECRET", "webhook_secret"),
        description="HMAC-SHA256 key shared with the webhook's senders",
    )
    max_message_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1,
        validation_alias=AliasChoices("INGEST_MAX_MESSAGE_BYTES", "max_message_bytes"),
    )
    replay_window_seconds: int = Field(
        default=300,
        ge=1,
        validation_alias=AliasChoices("INGEST_REPLAY_WINDOW_SECONDS", "replay_window_seconds"),
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
