"""The web console (web/, built into `WEB_CONSOLE_DIR`): its page at / and its files under
/assets. Public: the page holds no data, every call it makes carries the user's token.

The page's Content-Security-Policy lets it run only its own scripts and talk only to this
origin; mail bodies go into `<iframe sandbox srcdoc>` frames, which inherit this policy.
`img-src https:` is there for one thing: a mail's remote images, which the console loads only
when the reader asks for them (they arrive as data-blocked-src); see docs/security.md.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.response import File, Response
from litestar.static_files import create_static_files_router

from postdesk_gateway.auth import PUBLIC

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; connect-src 'self'; frame-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONSOLE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
ASSETS_MAX_AGE_SECONDS = 365 * 24 * 3600  # file names carry a content hash


def console_router(directory: Path) -> Router:
    """Serve the built console from `directory`; a 503 that says how to build it if absent."""
    index = directory / "index.html"

    @get("/", include_in_schema=False, opt=PUBLIC, sync_to_thread=False)
    def console_page() -> Response[bytes] | File:
        if not index.is_file():
            return Response(
                b"postdesk: the web console is not built here. Run `npm ci && npm run build` "
                b"in web/, or set WEB_CONSOLE_DIR to a built console.\n",
                status_code=503,
                media_type="text/plain; charset=utf-8",
            )
        return File(
            index, content_disposition_type="inline", media_type="text/html", headers=PAGE_HEADERS
        )

    assets = create_static_files_router(
        path="/assets",
        directories=[directory / "assets"],
        opt=PUBLIC,
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=ASSETS_MAX_AGE_SECONDS, public=True),
        name="console-assets",
    )
    return Router("/", route_handlers=[console_page, assets])
