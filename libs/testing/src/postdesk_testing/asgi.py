"""An ASGI app under test: its lifespan run for the test, and HTTP clients on it in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import httpx

BASE_URL = "http://gateway"


class LifespanApp(Protocol):
    """An ASGI app with a lifespan context manager (a Litestar app)."""

    def lifespan(self) -> AbstractAsyncContextManager[None]: ...

    def __call__(self, scope: Any, receive: Any, send: Any) -> Coroutine[Any, Any, None]: ...


@asynccontextmanager
async def started(app: LifespanApp) -> AsyncIterator[None]:
    """The app after its startup; shut down on exit. A failed startup raises here.

    The lifespan runs in a task of its own: it holds an anyio task group, which must be
    left in the task that entered it, and pytest-asyncio may tear a fixture down in
    another task than the one that set it up.
    """
    ready, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        async with app.lifespan():
            ready.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # startup failed: raise its error here
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def asgi_client(
    app: LifespanApp, *, ip: str = "127.0.0.1", port: int = 50000
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on `app`, in the caller's event loop, its requests coming from `ip`."""
    transport = httpx.ASGITransport(app=app, client=(ip, port))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http
