"""The text and HTML bodies of a mail we send: sanitised HTML and signatures. Pure, no I/O.

- `sanitize_html`: what an agent's editor produced, made safe to send with
  the policy the parser also applies (postdesk_runtime.htmlpolicy's
  `MAIL_HTML`: layout and text tags and attributes, `style` reduced to
  properties that cannot load anything, links only http(s), mailto and tel;
  scripts, style sheets, event handlers, forms, frames and objects go, with
  the content of script-like elements, here also of form fields), images
  http(s) or `cid:` (an attached part).
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
from dataclasses import replace

import nh3
from postdesk_runtime.htmlpolicy import MAIL_HTML

SIGNATURE_SEPARATOR = "\n\n-- \n"
# Beyond MAIL_HTML, form fields go with their text here (the parser keeps the text).
_POLICY = replace(MAIL_HTML, clean_content=MAIL_HTML.clean_content | {"textarea", "select"})
_IMAGE_SCHEMES = ("http://", "https://", "cid:")
_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|div|li|tr|h[1-6]|blockquote|pre|table)\s*>", re.I)
_BLANK_LINES = re.compile(r"\n{3,}")


def sanitize_html(fragment: str) -> str:
    """`fragment` with everything that could run, load unexpectedly or mislead removed."""
    return _POLICY.clean(fragment, image_source=_image_source)


def _image_source(value: str) -> str | None:
    return value if value.strip().lower().startswith(_IMAGE_SCHEMES) else None


def html_document(fragment: str) -> str:
    """A sanitised fragment as a complete HTML document declaring UTF-8."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f"<body>\n{fragment}\n</body></html>\n"
    )


def text_from_html(fragment: str) -> str:
    """A readable plain-text rendering of an HTML fragment: line breaks kept, tags dropped."""
    broken = _BLOCK_END.sub(lambda m: m.group(0) + "\n", fragment)
    text = html.unescape(nh3.clean(broken, tags=set(), clean_content_tags=_POLICY.clean_content))
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
