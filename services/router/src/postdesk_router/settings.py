"""Router settings: the shared ones, served on port 8003 by default."""

from __future__ import annotations

from postdesk_runtime import ServiceSettings
from pydantic import Field


class RouterSettings(ServiceSettings):
    http_port: int = 8003
    timer_scan_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often SLA timers and unanswered tickets are scanned"
    )
    timer_scan_batch: int = Field(
        default=500, ge=1, description="timers and tickets handled per scan transaction"
    )
