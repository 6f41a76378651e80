"""The shared HTML policy: what MAIL_HTML keeps, and the caller's say over image sources."""

from __future__ import annotations

from dataclasses import replace

from postdesk_runtime.htmlpolicy import MAIL_HTML


def test_image_sources_are_the_callers() -> None:
    """Only `img src` goes to image_source; what it returns is kept, None drops the attribute."""
    seen: list[str] = []

    def image_source(value: str) -> str | None:
        seen.append(value)
        return "cid:kept" if value == "cid:a" else None

    cleaned = MAIL_HTML.clean(
        '<img src="cid:a" alt="x"><img src="https://t.example/p.gif"><a href="cid:a">l</a>',
        image_source=image_source,
    )
    assert seen == ["cid:a", "https://t.example/p.gif"]
    assert cleaned == '<img src="cid:kept" alt="x"><img><a rel="noopener noreferrer">l</a>'


def test_links_cites_and_styles_are_filtered() -> None:
    """href only http(s)/mailto/tel, cite only http(s), style only harmless properties."""
    cleaned = MAIL_HTML.clean(
        '<a href="mailto:a@b.example">m</a><a href="javascript:x()">j</a>'
        '<blockquote cite="ftp://x.example">q</blockquote>'
        '<p style="color:red;position:fixed;background:url(https://t.example)" onclick="x()">p</p>',
        image_source=lambda value: value,
    )
    assert cleaned == (
        '<a href="mailto:a@b.example" rel="noopener noreferrer">m</a>'
        '<a rel="noopener noreferrer">j</a><blockquote>q</blockquote><p style="color:red">p</p>'
    )


def test_style_declarations_calling_functions_are_dropped() -> None:
    """Only colour functions and calc() survive in a kept property: expression() (old
    Internet Explorer's script), url() and anything hidden by escapes or comments go."""
    cleaned = MAIL_HTML.clean(
        '<p style="color:rgb(1,2,3);width:expression(alert(1));font-family:url(https://t.example)">'
        'a</p><p style="width:calc(1px + 2px);font-family:\\75rl(x);color:red/**/">b</p>'
        '<p style="width:EXPRESSION (alert(1))">c</p>',
        image_source=lambda value: value,
    )
    assert cleaned == (
        '<p style="color:rgb(1, 2, 3)">a</p><p style="width:calc(1px + 2px)">b</p><p>c</p>'
    )


def test_a_widened_policy_keeps_more() -> None:
    """A service widens MAIL_HTML with dataclasses.replace; the base is unchanged."""
    wider = replace(MAIL_HTML, tags=MAIL_HTML.tags | {"section"}, link_rel="nofollow")
    html = '<section><a href="https://x.example">x</a></section>'
    assert wider.clean(html, image_source=lambda v: v) == (
        '<section><a href="https://x.example" rel="nofollow">x</a></section>'
    )
    assert MAIL_HTML.clean(html, image_source=lambda v: v) == (
        '<a href="https://x.example" rel="noopener noreferrer">x</a>'
    )
