"""Outbound settings: the shared ones, served on port 8005 by default."""

from __future__ import annotations

from postdesk_runtime import ServiceSettings


class OutboundSettings(ServiceSettings):
    http_port: int = 8005
