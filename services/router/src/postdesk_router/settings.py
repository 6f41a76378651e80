"""Router settings: the shared ones, served on port 8003 by default."""

from __future__ import annotations

from postdesk_runtime import ServiceSettings


class RouterSettings(ServiceSettings):
    http_port: int = 8003
