"""Settings of the SMTP and LMTP listeners and of the recipient directory's cache.

Both listeners are off by default; they bind to INGEST_SMTP_HOST, or to
HTTP_HOST when that is unset. STARTTLS is offered when a certificate and
key are configured. AUTH is required when a username and password are
configured, and offered only after STARTTLS unless
INGEST_SMTP_AUTH_ALLOW_PLAINTEXT is set (tests only; refused in production).
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from postdesk_runtime.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator


def _env(name: str, field: str) -> AliasChoices:
    return AliasChoices(name, field)


class ListenerSettings(ServiceSettings):
    smtp_enabled: bool = Field(
        default=False,
        validation_alias=_env("INGEST_SMTP_ENABLED", "smtp_enabled"),
        description="run the SMTP listener",
    )
    smtp_port: int = Field(
        default=2525,
        ge=0,
        le=65535,
        validation_alias=_env("INGEST_SMTP_PORT", "smtp_port"),
        description="port of the SMTP listener",
    )
    lmtp_enabled: bool = Field(
        default=False,
        validation_alias=_env("INGEST_LMTP_ENABLED", "lmtp_enabled"),
        description="run the LMTP listener (no TLS or AUTH: trusted networks only)",
    )
    lmtp_port: int = Field(
        default=2424,
        ge=0,
        le=65535,
        validation_alias=_env("INGEST_LMTP_PORT", "lmtp_port"),
        description="port of the LMTP listener",
    )
    smtp_host: str | None = Field(
        default=None,
        validation_alias=_env("INGEST_SMTP_HOST", "smtp_host"),
        description="address the listeners bind to; HTTP_HOST when unset",
    )
    smtp_hostname: str = Field(
        default="postdesk-ingest",
        validation_alias=_env("INGEST_SMTP_HOSTNAME", "smtp_hostname"),
        description="the name in the greeting and EHLO answer",
    )
    smtp_tls_cert_file: Path | None = Field(
        default=None,
        validation_alias=_env("INGEST_SMTP_TLS_CERT_FILE", "smtp_tls_cert_file"),
        description="PEM certificate (chain); with the key, STARTTLS is offered on the SMTP port",
    )
    smtp_tls_key_file: Path | None = Field(
        default=None,
        validation_alias=_env("INGEST_SMTP_TLS_KEY_FILE", "smtp_tls_key_file"),
        description="PEM private key of INGEST_SMTP_TLS_CERT_FILE",
    )
    smtp_require_tls: bool = Field(
        default=False,
        validation_alias=_env("INGEST_SMTP_REQUIRE_TLS", "smtp_require_tls"),
        description="refuse mail on the SMTP port before STARTTLS",
    )
    smtp_auth_username: str | None = Field(
        default=None,
        validation_alias=_env("INGEST_SMTP_AUTH_USERNAME", "smtp_auth_username"),
        description="with the password, AUTH (PLAIN/LOGIN) is required on the SMTP port",
    )
    smtp_auth_password: SecretStr | None = Field(
        default=None,
        validation_alias=_env("INGEST_SMTP_AUTH_PASSWORD", "smtp_auth_password"),
        description="the password of INGEST_SMTP_AUTH_USERNAME",
    )
    smtp_auth_allow_plaintext: bool = Field(
        default=False,
        validation_alias=_env("INGEST_SMTP_AUTH_ALLOW_PLAINTEXT", "smtp_auth_allow_plaintext"),
        description="offer AUTH without TLS; for tests only, refused in production",
    )
    smtp_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        validation_alias=_env("INGEST_SMTP_TIMEOUT_SECONDS", "smtp_timeout_seconds"),
        description="an idle SMTP/LMTP session is closed after this long",
    )
    recipient_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        validation_alias=_env("INGEST_RECIPIENT_CACHE_SECONDS", "recipient_cache_seconds"),
        description="how long a known recipient's RCPT answer is cached",
    )
    recipient_unknown_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        validation_alias=_env(
            "INGEST_RECIPIENT_UNKNOWN_CACHE_SECONDS", "recipient_unknown_cache_seconds"
        ),
        description="how long an unknown recipient's answer (550) is cached",
    )

    @property
    def listen_host(self) -> str:
        return self.smtp_host or self.http_host

    @property
    def smtp_auth_configured(self) -> bool:
        return self.smtp_auth_username is not None

    @model_validator(mode="after")
    def _check_listener_security(self) -> Self:
        if (self.smtp_tls_cert_file is None) != (self.smtp_tls_key_file is None):
            raise ValueError("INGEST_SMTP_TLS_CERT_FILE and INGEST_SMTP_TLS_KEY_FILE go together")
        if (self.smtp_auth_username is None) != (self.smtp_auth_password is None):
            raise ValueError("INGEST_SMTP_AUTH_USERNAME and INGEST_SMTP_AUTH_PASSWORD go together")
        if self.smtp_require_tls and self.smtp_tls_cert_file is None:
            raise ValueError("INGEST_SMTP_REQUIRE_TLS needs a certificate and key")
        if self.smtp_auth_allow_plaintext and self.environment == "production":
            raise ValueError(
                "INGEST_SMTP_AUTH_ALLOW_PLAINTEXT is refused when ENVIRONMENT=production"
            )
        if self.smtp_auth_password is not None:
            self.refuse_placeholder(
                "INGEST_SMTP_AUTH_PASSWORD", self.smtp_auth_password.get_secret_value(), ""
            )
        return self
