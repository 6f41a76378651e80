"""Attachments: safe names, the type sniffed from the bytes, hashes, dedupe: pure, no I/O."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath

__all__ = [
    "MAX_FILENAME_CHARS",
    "AttachmentPart",
    "dedupe",
    "default_filename",
    "make_attachment",
    "safe_filename",
    "sniff_type",
]

MAX_FILENAME_CHARS = 150
_MAX_EXTENSION_CHARS = 16
# control characters, and what Windows refuses in a name (the file may be saved there)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\.|$)", re.IGNORECASE)
_EXTENSIONS = {
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "application/ics": ".ics",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".pgp",
    "application/ms-tnef": ".dat",
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
}
_DEFAULT_NAMES = {
    "text/calendar": "invite.ics",
    "application/pkcs7-signature": "smime.p7s",
    "application/x-pkcs7-signature": "smime.p7s",
    "application/pkcs7-mime": "smime.p7m",
    "application/x-pkcs7-mime": "smime.p7m",
    "application/pgp-signature": "signature.asc",
    "application/ms-tnef": "winmail.dat",
}
_EQUIVALENT = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "application/x-msdownload": "application/vnd.microsoft.portable-executable",
    "application/x-dosexec": "application/vnd.microsoft.portable-executable",
    "application/msword": "application/x-ole-storage",
    "application/vnd.ms-excel": "application/x-ole-storage",
    "application/vnd.ms-powerpoint": "application/x-ole-storage",
    "application/vnd.ms-outlook": "application/x-ole-storage",
}
_OOXML = "application/vnd.openxmlformats-officedocument."
_OOXML_KINDS = (
    (b"word/", _OOXML + "wordprocessingml.document"),
    (b"xl/", _OOXML + "spreadsheetml.sheet"),
    (b"ppt/", _OOXML + "presentationml.presentation"),
)


@dataclass(frozen=True)
class AttachmentPart:
    """An attachment's decoded bytes and metadata, before it is stored."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False
    sha256: str = field(default="")
    sniffed_type: str | None = None


def make_attachment(
    data: bytes,
    *,
    filename: str | None,
    content_type: str,
    number: int,
    content_id: str | None = None,
    inline: bool = False,
) -> AttachmentPart:
    """An attachment with a safe name, its hash, and its sniffed type when that differs from `content_type`."""
    sniffed = sniff_type(data)
    if sniffed is not None and _canonical(sniffed) == _canonical(content_type):
        sniffed = None
    return AttachmentPart(
        filename=safe_filename(filename) or default_filename(content_type, number),
        content_type=content_type,
        data=data,
        content_id=content_id,
        inline=inline,
        sha256=hashlib.sha256(data).hexdigest(),
        sniffed_type=sniffed,
    )


def default_filename(content_type: str, number: int) -> str:
    return (
        _DEFAULT_NAMES.get(content_type) or f"part-{number}{_EXTENSIONS.get(content_type, '.bin')}"
    )


def safe_filename(name: str | None) -> str | None:
    """A name safe to save anywhere: no path parts, control or format characters, leading dots; capped, extension kept."""
    if not name:
        return None
    base = PurePosixPath(unicodedata.normalize("NFC", name).replace("\\", "/")).name
    # format characters include the bidi overrides that disguise "exe" as "txt"
    base = "".join(c for c in base if unicodedata.category(c) != "Cf")
    cleaned = _UNSAFE.sub("", base).strip().lstrip(".").strip()
    if not cleaned:
        return None
    if _WINDOWS_DEVICES.match(cleaned):
        cleaned = "_" + cleaned
    if len(cleaned) <= MAX_FILENAME_CHARS:
        return cleaned
    stem, dot, extension = cleaned.rpartition(".")
    if dot and stem and len(extension) <= _MAX_EXTENSION_CHARS:
        return stem[: MAX_FILENAME_CHARS - len(extension) - 1].rstrip() + "." + extension
    return cleaned[:MAX_FILENAME_CHARS]


def sniff_type(data: bytes) -> str | None:
    """The type the first bytes say, for a few formats that matter (documents, images, archives, executables)."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"
    if head.startswith(b"MZ"):
        return "application/vnd.microsoft.portable-executable"
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head.startswith(b"\x78\x9f\x3e\x22"):
        return "application/ms-tnef"
    return None


def _zip_kind(data: bytes) -> str:
    if data[30:38] == b"mimetype":
        # OpenDocument: the first entry, stored uncompressed, names the type
        kind = data[38:120].split(b"PK", 1)[0].decode("ascii", "replace").strip()
        if kind.startswith("application/vnd.oasis.opendocument."):
            return kind
    if b"[Content_Types].xml" in data[:4096] or b"[Content_Types].xml" in data[-65536:]:
        names = data[:4096] + data[-65536:]
        for marker, kind in _OOXML_KINDS:
            if marker in names:
                return kind
    return "application/zip"


def _canonical(content_type: str) -> str:
    content_type = content_type.lower()
    return _EQUIVALENT.get(content_type, content_type)


def dedupe(parts: list[AttachmentPart]) -> list[AttachmentPart]:
    """The parts without repeats of the same bytes under the same name (first kept, in order)."""
    seen: set[tuple[str, str]] = set()
    result: list[AttachmentPart] = []
    for part in parts:
        key = (part.sha256, part.filename)
        if key not in seen:
            seen.add(key)
            result.append(part)
    return result
