"""What in a piece of HTML could run script or load something: pure, no I/O.

`active_content(html, listener)` parses `html` as Python's HTML parser does
and lists every finding: an element that runs, embeds, styles or submits; an
event handler attribute; a URL attribute (entities decoded, control
characters and spaces dropped as browsers do) that is script or data, other
than an inline raster image; a `style` with a loading property naming a URL, or
an expression or binding; and any loading attribute naming the test's `listener`. The
browser's own parse (mutation XSS) is what the Chromium tests check.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["ACTIVE_TAGS", "active_content"]

ACTIVE_TAGS = frozenset(
    {
        "script", "style", "link", "meta", "base", "iframe", "frame", "frameset", "object",
        "embed", "applet", "form", "input", "button", "select", "textarea", "svg", "math",
        "template", "noscript", "audio", "video", "source", "picture", "marquee", "isindex",
        "xmp", "html", "head", "body", "image", "animate", "set", "portal", "track", "param",
    }
)  # fmt: skip
# attributes a browser resolves as a URL and may load or navigate to
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "data", "lowsrc",
     "dynsrc", "xlink:href", "srcdoc", "codebase", "cite", "longdesc", "ping", "manifest"}
)  # fmt: skip
_LOADING_ATTRIBUTES = _URL_ATTRIBUTES - {"href", "cite", "longdesc"} | {"srcset"}
_IGNORED_IN_URL = re.compile(r"[\x00-\x20]")
_SAFE_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[a-z0-9+/=]*$", re.IGNORECASE)
_BAD_STYLE = re.compile(r"expression|javascript|@import|behavior|-moz-binding", re.I)
# properties that take an image or other resource; url() anywhere else is invalid CSS
_LOADING_PROPERTY = re.compile(
    r"background|image|content|cursor|mask|filter|shape|src|list-style(?!-type)", re.I
)


def _style_loads_or_runs(style: str) -> bool:
    if _BAD_STYLE.search(style):
        return True
    declarations = (part.partition(":") for part in style.split(";"))
    return any(
        "url(" in value.replace(" ", "").lower() and _LOADING_PROPERTY.search(name)
        for name, _, value in declarations
    )


class _Finder(HTMLParser):
    def __init__(self, listener: str) -> None:
        super().__init__(convert_charrefs=True)
        self.listener = listener
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, raw in attrs:
            value = raw or ""
            url = _IGNORED_IN_URL.sub("", value).lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            scripted = url.startswith(("javascript:", "vbscript:", "data:"))
            inline_image = tag == "img" and name == "src" and _SAFE_IMAGE.match(url)
            if name in _URL_ATTRIBUTES and scripted and not inline_image:
                self.found.append(f"<{tag} {name}={value[:60]!r}>")
            if name == "srcset" or (name == "style" and _style_loads_or_runs(value)):
                self.found.append(f"<{tag} {name}={value[:60]!r}>")
            if name in _LOADING_ATTRIBUTES and self.listener in value:
                self.found.append(f"<{tag} {name}={value[:60]!r}> loads the listener")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def active_content(html: str, listener: str) -> list[str]:
    """Every finding in `html` (see the module docstring); [] when it is inert."""
    finder = _Finder(listener)
    finder.feed(html)
    finder.close()
    return finder.found
