"""HTML made safe to display: sanitize_html."""

from __future__ import annotations

import pytest
from postdesk_parser.sanitize import sanitize_html


class TestSanitize:
    @pytest.mark.parametrize(
        "hostile",
        [
            "<script>alert(1)</script>",
            '<img src="x" onerror="alert(1)">',
            '<a href="javascript:alert(1)">x</a>',
            '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
            '<iframe src="https://evil.example"></iframe>',
            '<form action="https://evil.example"><input name="pw"></form>',
            "<style>body{background:url(https://evil.example/t.gif)}</style>",
            '<object data="x.swf"></object><embed src="x.swf">',
            '<svg onload="alert(1)"><script>alert(1)</script></svg>',
            '<meta http-equiv="refresh" content="0;url=https://evil.example">',
            '<base href="https://evil.example/">',
            '<p style="background-image:url(https://evil.example/t.gif);position:fixed">x</p>',
            '<img src="vbscript:msgbox(1)">',
            '<div onclick="x()" onmouseover="y()">x</div>',
        ],
    )
    def test_removes_active_content(self, hostile: str) -> None:
        """Scripts, handlers, forms, frames, style sheets, dangerous URLs and CSS are gone."""
        cleaned = sanitize_html(hostile).html.lower()
        for needle in ("script", "onerror", "onclick", "onload", "javascript", "vbscript",
                       "iframe", "<form", "<input", "<style", "url(", "<object", "<embed",
                       "<meta", "<base", "position", "data:text", "evil.example"):  # fmt: skip
            assert needle not in cleaned

    def test_links_get_rel(self) -> None:
        """Links keep their http(s)/mailto target and get rel=noopener noreferrer nofollow."""
        cleaned = sanitize_html('<a href="https://acme.example/x" target="_top">x</a>').html
        assert cleaned == (
            '<a href="https://acme.example/x" rel="noopener noreferrer nofollow">x</a>'
        )

    def test_remote_images_blocked_and_counted(self) -> None:
        """Remote image URLs move to data-blocked-src and are counted; no src remains."""
        result = sanitize_html(
            '<img src="https://t.example/a.gif?x=1&amp;y=2" alt="a > b"><img src="//cdn.example/b.png">'
        )
        assert result.remote_images_blocked == 2
        assert " src=" not in result.html
        assert 'data-blocked-src="https://t.example/a.gif?x=1&amp;y=2"' in result.html
        assert 'data-blocked-src="//cdn.example/b.png"' in result.html

    def test_remote_images_allowed_when_asked(self) -> None:
        """With blocking off, remote images keep their src."""
        result = sanitize_html('<img src="https://t.example/a.gif">', block_remote_images=False)
        assert result.html == '<img src="https://t.example/a.gif">'

    def test_cid_images_map_to_attachments(self) -> None:
        """cid: sources name the attachment's sha256; unknown cids are dropped."""
        result = sanitize_html(
            '<img src="cid:Logo@X"><img src="cid:missing@x">', {"logo@x": "ab12"}
        )
        assert result.html == '<img src="postdesk-attachment:ab12"><img>'
        assert result.cid_images == 1

    def test_smuggled_marker_is_not_trusted(self) -> None:
        """A source that already carries the internal markers is dropped, not rewritten."""
        result = sanitize_html(
            '<img src="postdesk-blocked:https://x.example/a.gif">'
            '<img src="postdesk-attachment:ab12"><a href="postdesk-attachment:ab12">x</a>'
        )
        assert result.html == '<img><img><a rel="noopener noreferrer nofollow">x</a>'

    def test_keeps_layout_and_safe_style(self) -> None:
        """Tables, inline data images and harmless style properties survive."""
        html = (
            '<table border="0"><tr><td colspan="2" style="color:#333;font-weight:bold">Hi</td></tr>'
            '</table><img src="data:image/png;base64,iVBORw0KGgo=">'
        )
        cleaned = sanitize_html(html).html
        assert 'colspan="2"' in cleaned
        assert 'style="color:#333;font-weight:bold"' in cleaned
        assert 'src="data:image/png;base64,iVBORw0KGgo="' in cleaned
