"""Parser settings: the shared service settings, on the parser's own port."""

from __future__ import annotations

from postdesk_runtime.settings import ServiceSettings

from postdesk_parser.limits import ParseLimits


class ParserSettings(ServiceSettings):
    http_port: int = 8002
    # limits against hostile mail (limits.py); env PARSE_MAX_PARTS etc.
    parse_max_parts: int = 500
    parse_max_depth: int = 20
    parse_max_decoded_bytes: int = 50 * 1024 * 1024
    parse_max_headers: int = 1000
    parse_max_header_line: int = 64 * 1024
    parse_max_seconds: float = 5.0

    def parse_limits(self) -> ParseLimits:
        return ParseLimits(
            max_parts=self.parse_max_parts,
            max_depth=self.parse_max_depth,
            max_decoded_bytes=self.parse_max_decoded_bytes,
            max_headers=self.parse_max_headers,
            max_header_line=self.parse_max_header_line,
            max_seconds=self.parse_max_seconds,
        )
