"""Settings every service shares, read from the environment (pydantic-settings).

Defaults work on a developer machine with the local PostgreSQL and RabbitMQ.
Services subclass `ServiceSettings` for their own options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from postdesk_runtime.db import DEFAULT_CONNECTION_MAX_AGE_SECONDS
from postdesk_runtime.keyring import Keyring

MIN_PRODUCTION_SECRET_BYTES = 32
# A fixed development key so a laptop run needs no setup; refused when ENVIRONMENT=production.
DEV_ENCRYPTION_KEYS = "dev:ZGV2LW9ubHkta2V5LW5ldmVyLXVzZS1pbi1wcm9kISE="
# The sampler names of the OpenTelemetry specification (OTEL_TRACES_SAMPLER).
TracesSampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    environment: Literal["development", "production"] = Field(
        default="development",
        description="production refuses the development placeholder secrets and keyring "
        "(the image sets production)",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ URL including the vhost (the default vhost / is %2F)",
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postdesk",
        description="PostgreSQL URL (postgresql:// or postgres://; the asyncpg driver is "
        "chosen internally); percent-encode special characters in the password",
    )
    blob_dir: Path = Field(
        default=Path("var/blobs"),
        description="directory of the local blob store (BLOB_BACKEND=local), shared by every "
        "process that reads or writes blobs",
    )
    blob_backend: Literal["local", "s3"] = Field(
        default="local",
        description="where blobs live: a directory (BLOB_DIR) or an S3-compatible bucket "
        "(BLOB_S3_*, credentials from the standard AWS_* variables)",
    )
    blob_s3_bucket: str | None = Field(
        default=None, description="the bucket of the S3 backend; required with BLOB_BACKEND=s3"
    )
    blob_s3_prefix: str = Field(
        default="", description="key prefix of every blob in the bucket (a '/' is added)"
    )
    blob_s3_endpoint_url: str | None = Field(
        default=None,
        description="endpoint of an S3-compatible store (MinIO, Ceph RGW); unset for AWS S3",
    )
    blob_s3_region: str | None = Field(
        default=None, description="region of the bucket; unset for boto3's default chain"
    )
    blob_encryption: bool = Field(
        default=True, description="seal blobs with the keyring (ENCRYPTION_KEYS); see ADR 0006"
    )
    blob_accept_plaintext: bool = Field(
        default=False,
        description="read blobs stored unencrypted before encryption was on (until rotated)",
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="json: one JSON object per line; console: for people"
    )
    log_level: str = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR; per-message logs are at DEBUG"
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="listen address of the HTTP server (0.0.0.0 in a container)",
    )
    http_port: int = Field(
        default=8000,
        description="listen port of the HTTP server (/healthz, /readyz, /metrics, the API)",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="comma-separated addresses (or CIDR networks) of the reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed; empty: none, the client is the "
        "TCP peer (uvicorn's own default trusts 127.0.0.1, so anyone on loopback could claim "
        "any address to the login throttle and the rate limits)",
    )
    prefetch_count: int = Field(
        default=32, ge=1, description="unacknowledged messages a consumer replica holds at once"
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="database connections per process: at most twice this many, each "
        "kept open once opened (for at most DB_CONNECTION_MAX_AGE_SECONDS)",
    )
    db_connection_max_age_seconds: float = Field(
        default=DEFAULT_CONNECTION_MAX_AGE_SECONDS,
        ge=1,
        description="a database connection this old is closed and opened again when next "
        "taken from the pool, so its prepared statements are planned again for the tables "
        "as they are now (a plan cached while a table was empty scanned the whole table "
        "ever after)",
    )
    shutdown_grace_seconds: float = Field(
        default=15.0, ge=0, description="time to finish in-flight work after SIGTERM"
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="the process's event loop: uvloop (libuv; less CPU per message and "
        "request) or the standard library's asyncio loop",
    )
    otel_console_export: bool = Field(
        default=False, description="print finished trace spans to stdout (debugging)"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description=(
            "base URL of an OTLP/HTTP collector (e.g. http://otel-collector:4318); traces go to "
            "<url>/v1/traces. Unset or empty: no OTLP export. Headers, timeout, compression and "
            "TLS files come from the standard OTEL_EXPORTER_OTLP_* variables, read by the exporter"
        ),
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None,
        description=(
            "full URL that traces are posted to, used as is (e.g. http://otel-collector:4318/v1/traces); "
            "takes precedence over OTEL_EXPORTER_OTLP_ENDPOINT and alone also turns OTLP export on"
        ),
    )
    otel_exporter_otlp_protocol: Literal["http/protobuf"] = Field(
        default="http/protobuf",
        description="OTLP transport; only http/protobuf (port 4318) is supported, grpc is refused",
    )
    otel_traces_sampler: TracesSampler = Field(
        default="parentbased_always_on",
        description=(
            "which traces are kept: always_on, always_off, traceidratio, or the parentbased_ "
            "forms, which follow the caller's decision when a trace context arrives"
        ),
    )
    otel_traces_sampler_arg: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="the fraction of traces kept by the traceidratio samplers (0 to 1)",
    )
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

    @field_validator(
        "otel_exporter_otlp_endpoint", "otel_exporter_otlp_traces_endpoint", mode="before"
    )
    @classmethod
    def _empty_endpoint_is_unset(cls, value: object) -> object:
        """An empty value (a ConfigMap key left blank) means no endpoint, as in the SDK."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _require_s3_bucket(self) -> ServiceSettings:
        if self.blob_backend == "s3" and not self.blob_s3_bucket:
            raise ValueError("BLOB_S3_BUCKET is required when BLOB_BACKEND=s3")
        return self

    def keyring(self) -> Keyring:
        return Keyring.from_setting(self.encryption_keys.get_secret_value())
