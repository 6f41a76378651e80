"""A minimal reader of TNEF (winmail.dat, application/ms-tnef): its attachments and body.

Format (MS-OXTNEF): a 4-byte signature 0x223E9F78, a 2-byte key, then
attributes, each: level (1 byte: 1 message, 2 attachment), id (4 bytes: low
word the attribute, high word its type), length (4), data, checksum (2).
An attachment starts at attAttachRendData; attAttachTitle names it,
attAttachData holds its bytes, and attAttachment holds MAPI properties that
may carry the long file name, MIME type and Content-ID. The body is
attBody (text) or, in attMsgProps, PR_BODY / PR_BODY_HTML. Compressed RTF
(PR_RTF_COMPRESSED) is not decoded. Everything is little-endian.

`read_tnef` never raises on bad input: it returns what it read before the
damage (`TnefContent.complete` says whether it reached the end cleanly).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from postdesk_parser.charsets import decode_bytes

__all__ = ["TNEF_SIGNATURE", "TnefAttachment", "TnefContent", "read_tnef"]

TNEF_SIGNATURE = 0x223E9F78
_ATT_BODY = 0x800C
_ATT_ATTACH_DATA = 0x800F
_ATT_ATTACH_TITLE = 0x8010
_ATT_MSG_PROPS = 0x9003
_ATT_ATTACH_REND_DATA = 0x9002
_ATT_ATTACHMENT = 0x9005
_ATT_OEM_CODEPAGE = 0x9007

_PR_BODY = 0x1000
_PR_BODY_HTML = 0x1013
_PR_ATTACH_DATA = 0x3701
_PR_ATTACH_FILENAME = 0x3704
_PR_ATTACH_LONG_FILENAME = 0x3707
_PR_ATTACH_MIME_TAG = 0x370E
_PR_ATTACH_CONTENT_ID = 0x3712
_PR_DISPLAY_NAME = 0x3001

_MV_FLAG = 0x1000
_FIXED_SIZES = {0x0001: 0, 0x0002: 4, 0x0003: 4, 0x0004: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8,
                0x000A: 4, 0x000B: 4, 0x0014: 8, 0x0040: 8, 0x0048: 16}  # fmt: skip
_STRING8, _UNICODE, _BINARY, _OBJECT = 0x001E, 0x001F, 0x0102, 0x000D
_MAX_VALUES = 100_000


@dataclass
class TnefAttachment:
    filename: str | None = None
    data: bytes = b""
    content_type: str | None = None
    content_id: str | None = None


@dataclass
class TnefContent:
    body_text: str | None = None
    body_html: str | None = None
    attachments: list[TnefAttachment] = field(default_factory=list)
    complete: bool = False


class _TruncatedError(Exception):
    pass


def read_tnef(data: bytes) -> TnefContent | None:
    """What a TNEF stream holds, or None when `data` is not TNEF at all."""
    if len(data) < 6 or struct.unpack_from("<I", data)[0] != TNEF_SIGNATURE:
        return None
    content = TnefContent()
    codepage = "cp1252"
    offset = 6
    current: TnefAttachment | None = None
    try:
        while offset < len(data):
            if offset + 9 > len(data):
                raise _TruncatedError
            level, attribute_id, length = struct.unpack_from("<BII", data, offset)
            start = offset + 9
            end = start + length
            if end + 2 > len(data):
                raise _TruncatedError
            value = data[start:end]
            offset = end + 2  # the checksum is not checked: a wrong one still leaves readable data
            name = attribute_id & 0xFFFF
            if name == _ATT_OEM_CODEPAGE and length >= 4:
                codepage = f"cp{struct.unpack_from('<I', value)[0]}"
            elif name == _ATT_ATTACH_REND_DATA:
                current = TnefAttachment()
                content.attachments.append(current)
            elif level == 2 and current is not None:
                _attachment_attribute(current, name, value, codepage)
            elif name == _ATT_BODY:
                content.body_text = decode_bytes(value.rstrip(b"\x00"), codepage)
            elif name == _ATT_MSG_PROPS:
                props = _mapi_props(value, codepage)
                if isinstance(props.get(_PR_BODY), str) and content.body_text is None:
                    content.body_text = str(props[_PR_BODY])
                html = props.get(_PR_BODY_HTML)
                if isinstance(html, bytes):
                    content.body_html = decode_bytes(html.rstrip(b"\x00"), "utf-8")
                elif isinstance(html, str):
                    content.body_html = html
        content.complete = True
    except (_TruncatedError, struct.error):
        pass
    content.attachments = [a for a in content.attachments if a.data or a.filename]
    return content


def _attachment_attribute(
    attachment: TnefAttachment, name: int, value: bytes, codepage: str
) -> None:
    if name == _ATT_ATTACH_TITLE and attachment.filename is None:
        attachment.filename = decode_bytes(value.rstrip(b"\x00"), codepage) or None
    elif name == _ATT_ATTACH_DATA:
        attachment.data = value
    elif name == _ATT_ATTACHMENT:
        props = _mapi_props(value, codepage)
        long_name = props.get(_PR_ATTACH_LONG_FILENAME) or props.get(_PR_DISPLAY_NAME)
        if isinstance(long_name, str) and long_name:
            attachment.filename = long_name
        elif isinstance(props.get(_PR_ATTACH_FILENAME), str) and not attachment.filename:
            attachment.filename = str(props[_PR_ATTACH_FILENAME])
        if isinstance(props.get(_PR_ATTACH_MIME_TAG), str):
            attachment.content_type = str(props[_PR_ATTACH_MIME_TAG]).lower() or None
        if isinstance(props.get(_PR_ATTACH_CONTENT_ID), str):
            attachment.content_id = str(props[_PR_ATTACH_CONTENT_ID]).strip("<>") or None
        if isinstance(props.get(_PR_ATTACH_DATA), bytes) and not attachment.data:
            attachment.data = props[_PR_ATTACH_DATA]  # type: ignore[assignment]  # narrowed by the isinstance above


def _mapi_props(data: bytes, codepage: str) -> dict[int, object]:
    """The single-valued string and binary MAPI properties of a property block (others skipped)."""
    props: dict[int, object] = {}
    offset = 0
    try:
        (count,) = struct.unpack_from("<I", data, offset)
        offset += 4
        for _ in range(min(count, _MAX_VALUES)):
            prop_type, prop_id = struct.unpack_from("<HH", data, offset)
            offset += 4
            if prop_id >= 0x8000:  # named property: GUID, kind, then an id or a name
                offset += 16
                (kind,) = struct.unpack_from("<I", data, offset)
                offset += 4
                if kind == 0:
                    offset += 4
                else:
                    (name_length,) = struct.unpack_from("<I", data, offset)
                    offset += 4 + _padded(name_length)
            multi = bool(prop_type & _MV_FLAG)
            base = prop_type & ~_MV_FLAG
            values: list[object] = []
            if base in _FIXED_SIZES:
                number = struct.unpack_from("<I", data, offset)[0] if multi else 1
                offset += 4 if multi else 0
                offset += number * max(4, _FIXED_SIZES[base])
                continue
            (number,) = struct.unpack_from("<I", data, offset)
            offset += 4
            for _ in range(min(number, _MAX_VALUES)):
                (length,) = struct.unpack_from("<I", data, offset)
                offset += 4
                raw = data[offset : offset + length]
                if len(raw) < length:
                    raise _TruncatedError
                offset += _padded(length)
                if base == _STRING8:
                    values.append(decode_bytes(raw.rstrip(b"\x00"), codepage))
                elif base == _UNICODE:
                    values.append(raw.decode("utf-16-le", errors="replace").rstrip("\x00"))
                elif base == _OBJECT:
                    values.append(raw[16:])  # after the interface id
                else:
                    values.append(raw)
            if not multi and values:
                props[prop_id] = values[0]
    except (struct.error, _TruncatedError):
        pass
    return props


def _padded(length: int) -> int:
    return (length + 3) & ~3
