"""Settings every service shares, read from the environment (pydantic-settings).

Defaults work on a developer machine with the local PostgreSQL and RabbitMQ.
Services subclass `ServiceSettings` for their own options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from postdesk_runtime.keyring import Keyring

MIN_PRODUCTION_SECRET_BYTES = 32
# A fixed development key so a laptop run needs no setup; refused when ENVIRONMENT=production.
DEV_ENCRYPTION_KEYS = "dev:ZGV2LW9ubHkta2V5LW5ldmVyLXVzZS1pbi1wcm9kISE="


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postdesk"
    blob_dir: Path = Path("var/blobs")
    blob_backend: Literal["local", "s3"] = "local"
    blob_s3_bucket: str | None = None
    blob_s3_prefix: str = ""
    blob_s3_endpoint_url: str | None = None
    blob_s3_region: str | None = None
    blob_encryption: bool = Field(
        default=True, description="seal blobs with the keyring (ENCRYPTION_KEYS); see ADR 0006"
    )
    blob_accept_plaintext: bool = Field(
        default=False,
        description="read blobs stored unencrypted before encryption was on (until rotated)",
    )
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    prefetch_count: int = Field(default=32, ge=1)
    db_pool_size: int = Field(default=10, ge=1)
    shutdown_grace_seconds: float = Field(default=15.0, ge=0)
    otel_console_export: bool = False
    encryption_keys: SecretStr = Field(
        default=SecretStr(DEV_ENCRYPTION_KEYS),
        description="keyring for data at rest: 'id:base64key,...', the first one encrypts",
    )

    def refuse_placeholder(self, name: str, value: str, placeholder: str) -> None:
        """Secrets keep their development placeholder, or a short value, only in development."""
        if self.environment != "production":
            return
        if value == placeholder:
            raise ValueError(f"{name} must be set to a real secret when ENVIRONMENT=production")
        if len(value.encode()) < MIN_PRODUCTION_SECRET_BYTES:
            raise ValueError(
                f"{name} must be at least {MIN_PRODUCTION_SECRET_BYTES} bytes when ENVIRONMENT=production"
            )

    @model_validator(mode="after")
    def _refuse_development_keyring(self) -> ServiceSettings:
        self.refuse_placeholder(
            "ENCRYPTION_KEYS", self.encryption_keys.get_secret_value(), DEV_ENCRYPTION_KEYS
        )
        return self

    @model_validator(mode="after")
    def _require_s3_bucket(self) -> ServiceSettings:
        if self.blob_backend == "s3" and not self.blob_s3_bucket:
            raise ValueError("BLOB_S3_BUCKET is required when BLOB_BACKEND=s3")
        return self

    def keyring(self) -> Keyring:
        return Keyring.from_setting(self.encryption_keys.get_secret_value())
