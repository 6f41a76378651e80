"""Notifier settings: the shared ones, served on port 8004 by default."""

from __future__ import annotations

from postdesk_runtime import ServiceSettings
from pydantic import Field, model_validator


class NotifierSettings(ServiceSettings):
    http_port: int = 8004
    grouping_window_seconds: float = Field(
        default=300.0,
        ge=0,
        description="events of one kind on one ticket for one user within this window fold "
        "into one notification; its email waits this long so a burst sends one mail",
    )
    email_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often due notification emails are sent"
    )
    email_batch: int = Field(default=200, ge=1, description="emails claimed per run")
    app_url: str = Field(
        default="",
        description="the web app's address; notification emails link to <app_url>/tickets/<id>",
    )
    digest_interval_seconds: float = Field(
        default=60.0, gt=0, description="how often users whose working day ended get their digest"
    )
    digest_batch: int = Field(default=200, ge=1, description="digests composed per transaction")
    digest_catch_up_hours: float = Field(
        default=6.0,
        gt=0,
        le=24,
        description="a digest whose day ended longer ago than this (the notifier was down) "
        "is not sent late",
    )
    webhook_interval_seconds: float = Field(
        default=2.0, gt=0, description="how often due webhook deliveries are looked for"
    )
    webhook_batch: int = Field(default=50, ge=1, description="webhook deliveries claimed per run")
    webhook_concurrency: int = Field(
        default=10, ge=1, description="webhook requests in flight at once per notifier"
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="a webhook attempt (resolving, connecting, sending, the response's "
        "status line) is cut off after this long",
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=50, description="attempts at a delivery before it fails for good"
    )
    webhook_retry_base_seconds: float = Field(
        default=30.0, gt=0, description="backoff after the first failed attempt, doubling"
    )
    webhook_retry_cap_seconds: float = Field(
        default=3600.0, gt=0, description="the longest backoff between two attempts"
    )
    webhook_ca_file: str | None = Field(
        default=None,
        description="a PEM bundle to verify webhook receivers with instead of the system's "
        "trust store (private CAs, tests); certificates are always verified",
    )
    webhook_stall_seconds: float = Field(
        default=300.0,
        gt=0,
        description="a delivery claimed longer ago than this belongs to a notifier that "
        "stopped and is claimed again",
    )

    @model_validator(mode="after")
    def _stall_outlasts_a_batch(self) -> NotifierSettings:
        # A live worker must finish its whole batch before its claims count as stalled.
        rounds = -(-self.webhook_batch // self.webhook_concurrency)
        if self.webhook_stall_seconds <= rounds * self.webhook_timeout_seconds:
            raise ValueError(
                "WEBHOOK_STALL_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS times "
                "ceil(WEBHOOK_BATCH / WEBHOOK_CONCURRENCY)"
            )
        return self
