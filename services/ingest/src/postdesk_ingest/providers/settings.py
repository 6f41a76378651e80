"""Provider webhook secrets from the environment; composed into `IngestSettings`.

A provider whose secret is not set has its route disabled (404): ingest
never accepts unauthenticated mail on a provider route.
"""

from __future__ import annotations

from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"INGEST_{name.upper()}", name)


class ProviderSettings(BaseSettings):
    """Secrets of the Mailgun, Postmark, SendGrid and Cloudflare webhooks (all optional)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    mailgun_signing_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("mailgun_signing_key"),
        description="Mailgun's HTTP webhook signing key; enables POST /webhooks/mailgun",
    )
    postmark_username: str | None = Field(
        default=None,
        validation_alias=_env("postmark_username"),
        description="HTTP Basic user name Postmark sends, with INGEST_POSTMARK_PASSWORD",
    )
    postmark_password: SecretStr | None = Field(
        default=None,
        validation_alias=_env("postmark_password"),
        description="HTTP Basic credentials Postmark sends; enables POST /webhooks/postmark",
    )
    postmark_token: SecretStr | None = Field(
        default=None,
        validation_alias=_env("postmark_token"),
        description="secret path segment: POST /webhooks/postmark/<token>",
    )
    sendgrid_public_key: str | None = Field(
        default=None,
        validation_alias=_env("sendgrid_public_key"),
        description="the Inbound Parse security policy's ECDSA public key (base64 DER or PEM)",
    )
    sendgrid_username: str | None = Field(
        default=None,
        validation_alias=_env("sendgrid_username"),
        description="HTTP Basic user name in the Inbound Parse URL, with INGEST_SENDGRID_PASSWORD",
    )
    sendgrid_password: SecretStr | None = Field(
        default=None,
        validation_alias=_env("sendgrid_password"),
        description="HTTP Basic credentials in the Inbound Parse URL",
    )
    cloudflare_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_env("cloudflare_secret"),
        description="HMAC key shared with the Email Worker; enables POST /webhooks/cloudflare",
    )

    @model_validator(mode="after")
    def _pairs_complete(self) -> Self:
        for provider in ("postmark", "sendgrid"):
            username = getattr(self, f"{provider}_username")
            password = getattr(self, f"{provider}_password")
            if (username is None) != (password is None):
                name = provider.upper()
                raise ValueError(
                    f"INGEST_{name}_USERNAME and INGEST_{name}_PASSWORD are set together or not at all"
                )
        return self
