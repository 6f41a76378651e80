"""Outbound settings: the shared ones, served on port 8005 by default, and the sender's."""

from __future__ import annotations

from postdesk_runtime import ServiceSettings
from pydantic import Field


class OutboundSettings(ServiceSettings):
    http_port: int = 8005
    send_poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="how often due messages are looked for"
    )
    send_batch: int = Field(default=20, ge=1, description="messages claimed per look")
    sending_lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="a message claimed longer ago than this is taken back from its sender "
        "(which stopped); each attempt is cut off after half of it",
    )
    recovery_interval_seconds: float = Field(
        default=30.0, gt=0, description="how often messages of stopped senders are looked for"
    )
    retry_base_seconds: float = Field(
        default=30.0,
        gt=0,
        description="backoff after a temporary failure (4xx, no connection): a random delay "
        "of at least 1 s and up to this after the first attempt, doubling with each",
    )
    retry_cap_seconds: float = Field(
        default=3600.0, gt=0, description="the longest backoff between two attempts"
    )
