"""A real HTTP webhook receiver on 127.0.0.1 (uvicorn), for the delivery and end-to-end tests.

It checks each request's signature with its own HMAC code (not the one under
test) and records what arrived. Paths choose the answer:
/ok 200, /flaky 500 on a delivery's first request then 200, /down 503,
/redirect 302 to /ok, /hang no answer until the receiver stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from postdesk_testing.smtp import CertificateFiles

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class Receiver:
    secret: str
    scheme: str = "http"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _seen: Counter[str] = field(default_factory=Counter)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def deliveries(self) -> Counter[str]:
        """How many requests arrived per Postdesk-Delivery-Id."""
        return Counter(item.headers["postdesk-delivery-id"] for item in self.received)

    def signed_correctly(self, headers: dict[str, str], body: bytes) -> bool:
        fields = dict(part.split("=", 1) for part in headers["postdesk-signature"].split(","))
        expected = hmac.new(
            self.secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, fields["v1"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        path = scope["path"]
        self.received.append(Received(path, headers, body, self.signed_correctly(headers, body)))
        self._seen[headers["postdesk-delivery-id"]] += 1
        if path == "/hang":
            await self.release.wait()
        status, extra = self._answer(path, headers["postdesk-delivery-id"])
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b"thanks"})

    def _answer(self, path: str, delivery_id: str) -> tuple[int, list[tuple[bytes, bytes]]]:
        if path == "/flaky" and self._seen[delivery_id] == 1:
            return 500, []
        if path == "/down":
            return 503, []
        if path == "/redirect":
            return 302, [(b"location", self.url("/ok").encode())]
        return 200, []


@asynccontextmanager
async def running_receiver(
    secret: str, certificate: CertificateFiles | None = None
) -> AsyncIterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1 until the block ends; HTTPS with
    `certificate`."""
    receiver = Receiver(secret, scheme="https" if certificate else "http")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    receiver.port = listener.getsockname()[1]
    tls: dict[str, Any] = (
        {"ssl_certfile": certificate.cert_file, "ssl_keyfile": certificate.key_file}
        if certificate
        else {}
    )
    server = uvicorn.Server(
        uvicorn.Config(receiver, lifespan="off", log_level="warning", ws="none", http="h11", **tls)
    )
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()  # raises why the server did not start
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.should_exit = True
        await task
        listener.close()
