"""The gateway's settings, read from the environment."""

from __future__ import annotations

from pathlib import Path

from postdesk_runtime.settings import ServiceSettings
from pydantic import Field, model_validator

JWT_SECRET_PLACEHOLDER = "dev-jwt-secret-change-me"  # noqa: S105  # the refused development default
MIN_PRODUCTION_SECRET_BYTES = 32


class GatewaySettings(ServiceSettings):
    """`JWT_SECRET` signs access tokens (HS256); the placeholder is refused in production.

    `CORS_ORIGINS` is a JSON list of allowed browser origins; empty disables CORS.
    `ACCESS_TOKEN_MINUTES` and `REFRESH_TOKEN_DAYS`: lifetimes of a login session's tokens.
    `LOGIN_MAX_FAILURES` wrong passwords in a row lock an account for `LOGIN_LOCKOUT_MINUTES`;
    `LOGIN_IP_MAX_FAILURES` failed logins from one address within `LOGIN_IP_WINDOW_SECONDS`
    make it wait (counted per replica, in memory).
    `UPLOAD_MAX_BYTES` bounds one uploaded file (413 over it),
    `ATTACHMENTS_MAX_TOTAL_BYTES` the attachments of one mail together.
    `NOTIFICATION_KEEPALIVE_SECONDS`: a quiet notification stream sends a comment this often;
    `NOTIFICATION_STREAM_OVERLAP_SECONDS`: how far back a stream reads again for rows that
    committed late (see `live`).
    `TICKET_PRESENCE_TTL_SECONDS`: a ticket presence (viewing, replying) lapses this long after
    its last heartbeat (see `ticket_live`).
    `WEB_CONSOLE_DIR`: the built web console (`npm run build` in web/) served at /.
    """

    http_port: int = 8000
    jwt_secret: str = Field(
        default=JWT_SECRET_PLACEHOLDER,
        min_length=1,
        description="HS256 key of access tokens; at least 32 bytes in production",
    )
    access_token_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="access token lifetime"
    )
    refresh_token_days: int = Field(
        default=30, ge=1, le=365, description="refresh token (login session) lifetime"
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="wrong passwords in a row that lock an account"
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, description="how long a locked account stays locked"
    )
    login_ip_max_failures: int = Field(
        default=50,
        ge=1,
        description="failed logins from one address within LOGIN_IP_WINDOW_SECONDS that make "
        "it wait (counted per replica, in memory)",
    )
    login_ip_window_seconds: int = Field(
        default=300, ge=1, description="the window of LOGIN_IP_MAX_FAILURES"
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="JSON list of allowed browser origins; empty disables CORS",
    )
    upload_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1,
        description="largest file POST /uploads accepts (413 over it)",
    )
    attachments_max_total_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1,
        description="largest total of the attachments of one reply or new mail (413 over it)",
    )
    notification_keepalive_seconds: float = Field(
        default=20.0, gt=0, description="a quiet notification stream sends a comment this often"
    )
    notification_stream_overlap_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how far back a notification stream reads again for rows that committed late",
    )
    ticket_presence_ttl_seconds: float = Field(
        default=45.0,
        gt=0,
        description="a ticket presence (viewing, replying) lapses this long after its last "
        "heartbeat",
    )

    web_console_dir: Path = Field(
        default=Path("web/dist"),
        description="the built web console (index.html and assets/), served at /; relative "
        "paths are from the working directory",
    )

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> GatewaySettings:
        self.refuse_placeholder("JWT_SECRET", self.jwt_secret, JWT_SECRET_PLACEHOLDER)
        if (
            self.environment == "production"
            and len(self.jwt_secret.encode()) < MIN_PRODUCTION_SECRET_BYTES
        ):
            raise ValueError(
                f"JWT_SECRET must be at least {MIN_PRODUCTION_SECRET_BYTES} bytes in production"
            )
        return self
