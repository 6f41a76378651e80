"""Bytes of a text part or header to str, whatever the label says: pure, never raises.

Order: the declared charset (through an alias table for labels mail clients
really send), then UTF-8, then a statistical detector (charset-normalizer),
then Windows-1252 with replacement characters, which cannot fail. A
single-byte label on bytes that are valid UTF-8 with non-ASCII in them is
taken as mislabelled UTF-8: genuine Latin-1 text is almost never valid UTF-8.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

__all__ = ["decode_bytes", "fix_surrogates", "normalize_charset"]

# labels seen in real mail that Python does not know, or knows as something narrower
_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "x-sjis": "cp932",
    "shift_jis": "cp932",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "iso-2022-jp": "iso2022_jp_ext",
}
# codecs that are not character sets, or that turn bytes into something other than their text
_REFUSED = frozenset(
    {"unicode_escape", "raw_unicode_escape", "undefined", "idna", "punycode", "mbcs", "oem"}
)
_SINGLE_BYTE = frozenset({"ascii", "cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2"})
_DETECT_MIN_BYTES = 8
# on short Western text the detector picks among these almost at random; cp1252 is the likeliest
_WESTERN_GUESSES = frozenset(
    {"cp1250", "cp1252", "cp1254", "cp1257", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4",
     "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "mac_roman",
     "mac_latin2", "mac_iceland", "mac_turkish", "cp437", "cp850", "cp852", "cp858"}
)  # fmt: skip


def normalize_charset(label: str | None) -> str | None:
    """The Python codec name for a MIME charset label, or None when there is no usable one."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):  # ValueError: a NUL in the label
        return None
    if info.name.replace("-", "_") in _REFUSED or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text of `data`: never raises, never drops it (undecodable bytes become U+FFFD at worst)."""
    charset = normalize_charset(declared)
    if charset is not None and not (charset in _SINGLE_BYTE and not data.isascii()):
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, UnicodeError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(data) - 3 and error.reason == "unexpected end of data":
            # a cut-off last character (truncated mail): the rest is good UTF-8
            return data.decode("utf-8", errors="replace")
    if charset is not None and charset in _SINGLE_BYTE and charset != "ascii":
        return data.decode(charset, errors="replace")
    if len(data) >= _DETECT_MIN_BYTES:
        best = from_bytes(data[:65536]).best()
        if best is not None and best.encoding and best.encoding not in _WESTERN_GUESSES:
            try:
                return data.decode(best.encoding, errors="replace")
            except (LookupError, ValueError):
                pass
    return data.decode("cp1252", errors="replace")


def fix_surrogates(value: str, declared: str | None = None) -> str:
    """A header value as the parser stored it, with raw 8-bit bytes (SMTPUTF8) decoded.

    The standard library keeps undecodable header bytes as surrogate escapes;
    here they become the characters they spell (UTF-8 first, see `decode_bytes`).
    """
    if value.isascii():
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value
    return decode_bytes(raw, declared or "utf-8")
