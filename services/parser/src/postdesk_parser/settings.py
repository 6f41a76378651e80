"""Parser settings: the shared service settings, on the parser's own port."""

from __future__ import annotations

from postdesk_runtime.settings import ServiceSettings
from pydantic import Field

from postdesk_parser.limits import ParseLimits


class ParserSettings(ServiceSettings):
    http_port: int = 8002
    # limits against hostile mail (limits.py); env PARSE_MAX_PARTS etc.
    parse_max_parts: int = Field(
        default=500, description="MIME parts read from one message; the rest are skipped"
    )
    parse_max_depth: int = Field(
        default=20, description="nesting depth of multiparts and attached messages read"
    )
    parse_max_decoded_bytes: int = Field(
        default=50 * 1024 * 1024,
        description="decoded bytes of bodies and attachments read from one message",
    )
    parse_max_headers: int = Field(
        default=1000, description="header fields kept from one header block; the rest are dropped"
    )
    parse_max_header_line: int = Field(
        default=64 * 1024,
        description="longest header line kept; longer lines are cut",
    )
    parse_max_seconds: float = Field(
        default=5.0, description="parse time of one message before the parser stops reading"
    )

    def parse_limits(self) -> ParseLimits:
        return ParseLimits(
            max_parts=self.parse_max_parts,
            max_depth=self.parse_max_depth,
            max_decoded_bytes=self.parse_max_decoded_bytes,
            max_headers=self.parse_max_headers,
            max_header_line=self.parse_max_header_line,
            max_seconds=self.parse_max_seconds,
        )
