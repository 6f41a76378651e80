"""The text and HTML bodies of a mail we send: sanitised HTML and signatures. Pure, no I/O.

- `sanitize_html`: what an agent's editor produced, made safe to send with
  nh3 (ammonia): an allow-list of layout and text tags and attributes,
  `style` reduced to properties that cannot load anything, links only
  http(s), mailto and tel, images http(s) or `cid:` (an attached part).
  Scripts, style sheets, event handlers, forms, frames and objects go,
  with the content of script-like elements.
- `html_document`: a sanitised fragment as the complete UTF-8 HTML document
  the text/html part carries.
- `text_from_html`: a plain-text alternative for HTML sent without one.
- Signatures are plain text. In the text part they follow the RFC 3676
  separator ("-- " on a line of its own); in HTML they are an escaped
  `<div class="postdesk-signature">`. Neither is added twice: a text body
  that already ends with the signature (the agent's editor inserted it)
  gets none in either part (`already_signed`).
"""

from __future__ import annotations

import html
import re

import nh3

SIGNATURE_SEPARATOR = "\n\n-- \n"
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
     "embed", "applet", "noscript", "svg", "math", "head", "textarea", "select"}
)  # fmt: skip
_CELL = {"align", "valign", "width", "height", "colspan", "rowspan", "bgcolor"}
_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "dir", "lang", "align", "style"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height", "border"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor"},
    "td": _CELL,
    "th": _CELL,
    "tr": {"valign", "bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "li": {"value"},
    "blockquote": {"cite"},
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
_IMAGE_SCHEMES = ("http://", "https://", "cid:")
_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|div|li|tr|h[1-6]|blockquote|pre|table)\s*>", re.I)
_BLANK_LINES = re.compile(r"\n{3,}")


def sanitize_html(fragment: str) -> str:
    """`fragment` with everything that could run, load unexpectedly or mislead removed."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        lowered = value.strip().lower()
        if attribute == "href":
            return value if lowered.startswith(_LINK_SCHEMES) else None
        if tag == "img" and attribute == "src":
            return value if lowered.startswith(_IMAGE_SCHEMES) else None
        if attribute == "cite":
            return value if lowered.startswith(("http://", "https://")) else None
        return value

    return nh3.clean(
        fragment,
        tags=set(_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT),
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "tel", "cid"},
        link_rel="noopener noreferrer",
        filter_style_properties=set(_STYLE_PROPERTIES),
        strip_comments=True,
    )


def html_document(fragment: str) -> str:
    """A sanitised fragment as a complete HTML document declaring UTF-8."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f"<body>\n{fragment}\n</body></html>\n"
    )


def text_from_html(fragment: str) -> str:
    """A readable plain-text rendering of an HTML fragment: line breaks kept, tags dropped."""
    broken = _BLOCK_END.sub(lambda m: m.group(0) + "\n", fragment)
    text = html.unescape(nh3.clean(broken, tags=set(), clean_content_tags=set(_CLEAN_CONTENT)))
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"


def already_signed(text: str, signature: str) -> bool:
    """True when there is no signature to add, or the text ends with it already (the agent's
    editor inserted it): then neither part gets a second one."""
    clean = signature.strip()
    return not clean or text.rstrip().endswith(clean)


def text_with_signature(text: str, signature: str) -> str:
    """The text body, then the "-- " separator line and the signature."""
    return text.rstrip("\n") + SIGNATURE_SEPARATOR + signature.strip("\n") + "\n"


def html_with_signature(fragment: str, signature: str) -> str:
    """The HTML fragment, then the signature as an escaped block."""
    lines = "<br>\n".join(html.escape(line) for line in signature.strip("\n").split("\n"))
    return f'{fragment}\n<div class="postdesk-signature">-- <br>\n{lines}</div>'
