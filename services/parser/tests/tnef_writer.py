"""Builds TNEF streams shaped like Outlook's winmail.dat, for tests (MS-OXTNEF, little-endian)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

SIGNATURE = 0x223E9F78
GUID = bytes(range(16))


@dataclass(frozen=True)
class TnefFile:
    title: str  # the 8.3 name attAttachTitle carries
    long_name: str
    mime_tag: str
    data: bytes
    content_id: str | None = None


def attribute(level: int, attribute_id: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attribute_id, len(data)) + data + struct.pack("<H", checksum)


def _padded(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def string8(prop_id: int, text: str) -> bytes:
    value = text.encode("cp1252") + b"\x00"
    return struct.pack("<HHII", 0x001E, prop_id, 1, len(value)) + _padded(value)


def unicode_prop(prop_id: int, text: str) -> bytes:
    value = text.encode("utf-16-le") + b"\x00\x00"
    return struct.pack("<HHII", 0x001F, prop_id, 1, len(value)) + _padded(value)


def binary_prop(prop_id: int, data: bytes) -> bytes:
    return struct.pack("<HHII", 0x0102, prop_id, 1, len(data)) + _padded(data)


def long_prop(prop_id: int, value: int) -> bytes:
    return struct.pack("<HHI", 0x0003, prop_id, value)


def named_long(value: int) -> bytes:
    """A named property (id >= 0x8000) by numeric id, as Outlook writes for its own fields."""
    return struct.pack("<HH", 0x0003, 0x8005) + GUID + struct.pack("<III", 0, 0x8552, value)


def named_string(name: str, text: str) -> bytes:
    encoded = name.encode("utf-16-le") + b"\x00\x00"
    value = text.encode("cp1252") + b"\x00"
    return (
        struct.pack("<HH", 0x001E, 0x8006)
        + GUID
        + struct.pack("<II", 1, len(encoded))
        + _padded(encoded)
        + struct.pack("<II", 1, len(value))
        + _padded(value)
    )


def props(*encoded: bytes) -> bytes:
    return struct.pack("<I", len(encoded)) + b"".join(encoded)


def build_tnef(body: str, files: list[TnefFile], *, html: str | None = None) -> bytes:
    """A winmail.dat: version, code page, message class, message properties, then each attachment."""
    out = struct.pack("<IH", SIGNATURE, 0x1A2B)
    out += attribute(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += attribute(1, 0x00069007, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += attribute(1, 0x00078008, b"IPM.Microsoft Mail.Note\x00")  # attMessageClass
    message_props = [
        unicode_prop(0x0037, "Quarterly figures"),  # PR_SUBJECT
        named_long(42),
        named_string("x-outlook-category", "Finance"),
        string8(0x1000, body),  # PR_BODY
        long_prop(0x0E07, 1),  # PR_MESSAGE_FLAGS
    ]
    if html is not None:
        message_props.append(binary_prop(0x1013, html.encode("utf-8")))  # PR_BODY_HTML
    out += attribute(1, 0x00069003, props(*message_props))  # attMsgProps
    for item in files:
        rend = struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0)
        out += attribute(2, 0x00069002, rend)  # attAttachRendData: a new attachment
        out += attribute(2, 0x00018010, item.title.encode("cp1252") + b"\x00")  # attAttachTitle
        out += attribute(2, 0x00038013, struct.pack("<7H", 2024, 3, 4, 9, 40, 44, 1))  # modify date
        out += attribute(2, 0x0006800F, item.data)  # attAttachData
        attachment_props = [
            long_prop(0x3705, 1),  # PR_ATTACH_METHOD: by value
            unicode_prop(0x3707, item.long_name),  # PR_ATTACH_LONG_FILENAME
            string8(0x370E, item.mime_tag),  # PR_ATTACH_MIME_TAG
            long_prop(0x370B, -1 & 0xFFFFFFFF),  # PR_RENDERING_POSITION
        ]
        if item.content_id is not None:
            attachment_props.append(string8(0x3712, item.content_id))
        out += attribute(2, 0x00069005, props(*attachment_props))  # attAttachment
    return out
