"""Date-time query parameters: RFC 3339 text with an offset, and nothing else.

A `datetime` query parameter would also take a number (msgspec reads it as a Unix
time), which the OpenAPI document does not allow and a typo would silently turn
into a date in 1970. So the parameter is text that must read like a date-time,
documented as `format: date-time`, and the handler parses it with `parse_time`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar.params import QueryParameter
from postdesk_contracts.api import DATE_TIME_SHAPE

from postdesk_gateway.domain import InvalidRequestError


def time_query(description: str) -> Any:
    """The `QueryParameter` of a date-time given as text, e.g. 2026-11-25T10:02:44Z."""
    return QueryParameter(
        description=description,
        pattern=DATE_TIME_SHAPE.pattern,
        schema_extra={"format": "date-time"},
    )


Since = Annotated[str | None, time_query("only what is from this time on")]
Until = Annotated[str | None, time_query("only what is before this time")]


def parse_time(name: str, value: str | None) -> datetime | None:
    """`value` as an aware datetime; 400 when it is no valid date-time or has no offset."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidRequestError(f"{name} is not a valid date-time") from error
    if parsed.tzinfo is None:
        raise InvalidRequestError(f"{name} needs a timezone offset")
    return parsed


__all__ = ["Since", "Until", "parse_time", "time_query"]
