"""Notifier settings: the shared ones, served on port 8004 by default."""

from __future__ import annotations

from postdesk_runtime import ServiceSettings


class NotifierSettings(ServiceSettings):
    http_port: int = 8004
