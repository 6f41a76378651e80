"""The HTML postdesk lets through, in both directions, applied with nh3 (ammonia). Pure, no I/O.

One allow-list serves the parser (received mail, made safe to display) and
outbound (what an agent's editor produced, made safe to send); it lives here
because services never import each other (ADR 1).

`MAIL_HTML` is what both allow: layout and text tags, a few presentational
attributes, `style` reduced to properties that cannot load anything, and to
declarations that call no function but colours and calc().
Scripts, style sheets, event handlers, forms, frames and objects are
removed, the script-like elements in `clean_content` with everything inside
them; comments go. A service widens it with `dataclasses.replace`.

`HtmlPolicy.clean` keeps `href` only for http(s), mailto and tel, `cite`
only for http(s), and gives every link `rel=link_rel`. Image sources are the
caller's to judge (`image_source`: the `src` to keep, possibly rewritten, or
None to drop it), since that is where the directions differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nh3

__all__ = ["MAIL_HTML", "HtmlPolicy"]

_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")
_CITE_SCHEMES = ("http://", "https://")
# A second line behind the attribute filter, which decides each URL attribute itself.
# postdesk-attachment is the parser's name for an embedded image; only the image filter
# of whoever serves the HTML turns it into something (the gateway: a data: URI).
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid", "data", "postdesk-attachment"})
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


# CSS functions that compute a value; any other (url, expression, image-set, var, ...) could
# load something or run in some browser, whatever property it is given to
_STYLE_FUNCTION = re.compile(r"([a-z0-9_-]*)\s*\(", re.IGNORECASE)
_PLAIN_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "calc"})


def _plain_declarations(style: str) -> str | None:
    """`style` without the declarations that call any other function than a colour or
    calc(), or hide text from this check (CSS escapes, comments); None when none is left.
    Behind the property allow-list, which none of these could pass usefully anyway."""
    kept = [
        declaration.strip()
        for declaration in style.split(";")
        if "\\" not in declaration
        and "/*" not in declaration
        and all(name.lower() in _PLAIN_FUNCTIONS for name in _STYLE_FUNCTION.findall(declaration))
    ]
    return ";".join(d for d in kept if d) or None


@dataclass(frozen=True)
class HtmlPolicy:
    """Which tags and attributes survive; `attributes` maps a tag ("*": every tag) to its names."""

    tags: frozenset[str]
    clean_content: frozenset[str]
    attributes: Mapping[str, frozenset[str]]
    link_rel: str

    def clean(self, html: str, *, image_source: Callable[[str], str | None]) -> str:
        """`html` with everything this policy does not allow removed; `img src` as `image_source` says."""

        def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
            if tag == "img" and attribute == "src":
                return image_source(value)
            if attribute == "style":
                return _plain_declarations(value)
            lowered = value.strip().lower()
            if attribute == "href":
                return value if lowered.startswith(_LINK_SCHEMES) else None
            if attribute == "cite":
                return value if lowered.startswith(_CITE_SCHEMES) else None
            return value

        return nh3.clean(
            html,
            tags=self.tags,
            clean_content_tags=self.clean_content,
            attributes=self.attributes,
            attribute_filter=attribute_filter,
            url_schemes=_URL_SCHEMES,
            link_rel=self.link_rel,
            filter_style_properties=_STYLE_PROPERTIES,
            strip_comments=True,
        )


_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
        "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small",
        "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "tt", "u", "ul",
    }
)  # fmt: skip
_CLEAN_CONTENT = frozenset(
    {"script", "style", "title", "template", "iframe", "frame", "frameset", "object",
     "embed", "applet", "noscript", "svg", "math", "head"}
)  # fmt: skip
_CELL = frozenset({"align", "valign", "width", "height", "colspan", "rowspan", "bgcolor"})
MAIL_HTML = HtmlPolicy(
    tags=_TAGS,
    clean_content=_CLEAN_CONTENT,
    attributes={
        "*": frozenset({"title", "dir", "lang", "align", "style"}),
        "a": frozenset({"href", "name"}),
        "img": frozenset({"src", "alt", "width", "height", "border"}),
        "table": frozenset({"width", "border", "cellpadding", "cellspacing", "bgcolor"}),
        "td": _CELL,
        "th": _CELL,
        "tr": frozenset({"valign", "bgcolor"}),
        "col": frozenset({"span", "width"}),
        "colgroup": frozenset({"span", "width"}),
        "font": frozenset({"color", "face", "size"}),
        "ol": frozenset({"start", "type"}),
        "li": frozenset({"value"}),
        "blockquote": frozenset({"cite"}),
    },
    link_rel="noopener noreferrer",
)
