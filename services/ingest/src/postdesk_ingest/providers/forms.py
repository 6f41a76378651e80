"""HTML form bodies (multipart/form-data or urlencoded) as raw bytes per field, pure.

Frameworks decode form fields as UTF-8 text; a raw MIME message in a field
may hold any 8-bit bytes, and its hash is its identity, so the fields here
stay bytes exactly as sent.

Errors: `FormError` for a body that is not a well-formed form.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

# multipart ships no type information; it is the parser Litestar itself uses
import multipart  # type: ignore[import-untyped]

MAX_FIELDS = 1000


class FormError(ValueError):
    """The body is not the form its Content-Type says."""


Form = dict[str, list[bytes]]


def parse_form(content_type: str, body: bytes) -> Form:
    """Every field of the form as raw bytes (file parts included), in the order sent."""
    media_type, options = multipart.parse_options_header(content_type or "")
    if media_type == "multipart/form-data":
        return _multipart(body, options.get("boundary", ""))
    if media_type == "application/x-www-form-urlencoded":
        return _urlencoded(body)
    raise FormError(f"expected a form, got {media_type or 'no content type'}")


def first(form: Form, name: str) -> bytes | None:
    values = form.get(name)
    return values[0] if values else None


def _urlencoded(body: bytes) -> Form:
    form: Form = {}
    pairs = [pair for pair in body.split(b"&") if pair]
    if len(pairs) > MAX_FIELDS:
        raise FormError(f"more than {MAX_FIELDS} fields")
    for pair in pairs:
        name, _, value = pair.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
        form.setdefault(key, []).append(unquote_to_bytes(value.replace(b"+", b" ")))
    return form


def _multipart(body: bytes, boundary: str) -> Form:
    if not boundary:
        raise FormError("multipart/form-data without a boundary")
    form: Form = {}
    name: str | None = None
    chunks: list[bytes] = []
    try:
        with multipart.PushMultipartParser(boundary, max_segment_count=MAX_FIELDS) as parser:
            for event in [*parser.parse(body), *parser.parse(b"")]:
                if isinstance(event, multipart.MultipartSegment):
                    name, chunks = event.name, []
                elif event is None:
                    form.setdefault(name or "", []).append(b"".join(chunks))
                else:
                    chunks.append(bytes(event))
    except multipart.MultipartError as error:
        raise FormError(f"malformed multipart body: {error}") from None
    return form
