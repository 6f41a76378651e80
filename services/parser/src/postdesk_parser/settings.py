"""Parser settings: the shared service settings, on the parser's own port."""

from __future__ import annotations

from postdesk_runtime.settings import ServiceSettings


class ParserSettings(ServiceSettings):
    http_port: int = 8002
