"""HTML mail made safe to display, with the policy outbound also applies: pure, no I/O.

What survives: postdesk_runtime.htmlpolicy's `MAIL_HTML` (layout and text
tags, a few presentational attributes, `style` reduced to properties that
cannot load anything; no scripts, style sheets, event handlers, forms,
frames or objects; links only http(s), mailto or tel), widened by the
sectioning and text-level tags received mail uses; links get
rel="noopener noreferrer nofollow".

Images: `cid:` sources become `postdesk-attachment:<sha256>` of the attachment
with that Content-ID (the gateway maps that to an authorised URL), or are
removed when no part has it. Remote sources are blocked by default: the URL
moves to `data-blocked-src`, which no browser loads, and is counted so the
reader can offer to show them. Inline `data:image/...` sources stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from postdesk_runtime.htmlpolicy import MAIL_HTML

__all__ = ["ATTACHMENT_SCHEME", "SanitizedHtml", "sanitize_html"]

ATTACHMENT_SCHEME = "postdesk-attachment:"
_BLOCKED = "postdesk-blocked:"
# Received mail uses more of HTML than our editor writes: sectioning and text-level tags, all
# harmless. Links are someone else's, so they also get nofollow.
_POLICY = replace(
    MAIL_HTML,
    tags=MAIL_HTML.tags
    | {"address", "article", "bdi", "bdo", "details", "dfn", "figcaption", "figure", "footer",
       "header", "samp", "section", "summary", "time", "var", "wbr"},
    attributes={
        **MAIL_HTML.attributes,
        "table": MAIL_HTML.attributes["table"] | {"summary"},
        "time": frozenset({"datetime"}),
    },
    link_rel="noopener noreferrer nofollow",
)  # fmt: skip
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

    def image_source(value: str) -> str | None:
        lowered = value.strip().lower()
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

    cleaned = _POLICY.clean(html, image_source=image_source)
    if counts["remote"]:
        cleaned = _BLOCKED_SRC.sub(r'\1data-blocked-src="', cleaned)
    return SanitizedHtml(cleaned, remote_images_blocked=counts["remote"], cid_images=counts["cid"])
