"""HTML mail made safe to display, with nh3 (the ammonia sanitiser): pure, no I/O.

What survives: an allow-list of layout and text tags, a few presentational
attributes, `style` attributes reduced to harmless properties (none can load
a URL). Scripts, style sheets, event handlers, forms, frames and objects are
removed; links get rel="noopener noreferrer nofollow" and may only be http(s),
mailto or tel.

Images: `cid:` sources become `postdesk-attachment:<sha256>` of the attachment
with that Content-ID (the gateway maps that to an authorised URL), or are
removed when no part has it. Remote sources are blocked by default: the URL
moves to `data-blocked-src`, which no browser loads, and is counted so the
reader can offer to show them. Inline `data:image/...` sources stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nh3

__all__ = ["ATTACHMENT_SCHEME", "SanitizedHtml", "sanitize_html"]

ATTACHMENT_SCHEME = "postdesk-attachment:"
_BLOCKED = "postdesk-blocked:"
_TAGS = frozenset(
    {
        "a", "abbr", "address", "article", "b", "bdi", "bdo", "blockquote", "br", "caption",
        "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl",
        "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
        "samp", "section", "small", "span", "strike", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var",
        "wbr",
    }
)  # fmt: skip
_CLEAN_CONTENT = frozenset(
    {"script", "style", "title", "template", "iframe", "frame", "frameset", "object",
     "embed", "applet", "noscript", "svg", "math", "head"}
)  # fmt: skip
_CELL = {"align", "valign", "width", "height", "colspan", "rowspan", "bgcolor"}
_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "dir", "lang", "align", "style"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height", "border"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor", "summary"},
    "td": _CELL,
    "th": _CELL,
    "tr": {"valign", "bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "li": {"value"},
    "blockquote": {"cite"},
    "time": {"datetime"},
}
# none of these can name a URL, position content over the page, or hide it
_STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font", "font-family", "font-size", "font-style",
        "font-weight", "font-variant", "text-align", "text-decoration", "text-indent",
        "text-transform", "letter-spacing", "line-height", "white-space", "word-spacing",
        "vertical-align", "width", "max-width", "min-width", "height", "margin", "margin-top",
        "margin-right", "margin-bottom", "margin-left", "padding", "padding-top",
        "padding-right", "padding-bottom", "padding-left", "border", "border-top",
        "border-right", "border-bottom", "border-left", "border-color", "border-style",
        "border-width", "border-collapse", "border-spacing", "border-radius", "direction",
        "list-style-type",
    }
)  # fmt: skip
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")
_REMOTE = ("http://", "https://", "//")
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp|bmp);", re.IGNORECASE)
_BLOCKED_SRC = re.compile(r'(<img\b(?:\s+[^\s=>]+(?:="[^"]*")?)*?\s+)src="' + _BLOCKED)


@dataclass(frozen=True)
class SanitizedHtml:
    html: str
    remote_images_blocked: int = 0
    cid_images: int = 0


def sanitize_html(
    html: str, cid_map: dict[str, str] | None = None, *, block_remote_images: bool = True
) -> SanitizedHtml:
    """`html` safe to display; `cid_map` maps a Content-ID (without <>) to its attachment's sha256."""
    cids = {k.lower(): v for k, v in (cid_map or {}).items()}
    counts = {"remote": 0, "cid": 0}

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        lowered = value.strip().lower()
        if tag == "img" and attribute == "src":
            if lowered.startswith("cid:"):
                sha256 = cids.get(value.strip()[4:].strip("<>").lower())
                if sha256 is None:
                    return None
                counts["cid"] += 1
                return ATTACHMENT_SCHEME + sha256
            if lowered.startswith(_REMOTE):
                if not block_remote_images:
                    return value
                counts["remote"] += 1
                return _BLOCKED + value.strip()
            return value if _DATA_IMAGE.match(lowered) else None
        if attribute == "href":
            return value if lowered.startswith(_LINK_SCHEMES) else None
        if attribute == "cite":
            return value if lowered.startswith(("http://", "https://")) else None
        return value

    cleaned = nh3.clean(
        html,
        tags=set(_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT),
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties=set(_STYLE_PROPERTIES),
        strip_comments=True,
    )
    if counts["remote"]:
        cleaned = _BLOCKED_SRC.sub(r'\1data-blocked-src="', cleaned)
    return SanitizedHtml(cleaned, remote_images_blocked=counts["remote"], cid_images=counts["cid"])
