"""SMTP and LMTP listeners (aiosmtpd) on the app's own event loop.

Answers, so that an MTA never loses mail and never retries forever:
- MAIL FROM over the client's rate (per source, ``"smtp:<peer ip>"`` or
  ``"lmtp:<peer ip>"``): `451 4.7.1`, so the MTA retries later.
- RCPT TO an unknown address: `550 5.1.1`; directory unavailable: `451 4.3.0`.
- RCPT TO a known address whose tenant is over its rate: `451 4.7.1` (a
  tenant's token is taken once per transaction, at its first recipient).
- DATA above INGEST_MAX_MESSAGE_BYTES: `552 5.3.4 Message too big`.
- DATA accepted (stored, logged, mail.received confirmed): `250 2.0.0` with the event id.
- Blob store, database or broker unavailable, or any unexpected error:
  `451 4.3.0 ... try again later` -- never 250, never a permanent 5xx.
- LMTP: after DATA one reply per accepted recipient (RFC 2033); the message
  is accepted once for all of them, so the replies are equal.

The listeners run in the app's event loop (not aiosmtpd's threaded
Controller) so that a DATA handler awaits `admit`/`accept_raw_mail` with the
app's own broker connection and database pool.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from postdesk_contracts.events import Channel

from postdesk_ingest.ratelimit import RateLimitedError, RateLimiter, smtp_reply, tenant_key
from postdesk_ingest.recipients import RecipientDirectory, single_tenant
from postdesk_ingest.service import Ports, UnavailableError, accept_raw_mail
from postdesk_ingest.smtp_settings import ListenerSettings

log = structlog.get_logger(__name__)

TOO_BIG = "552 5.3.4 Message too big"
TRY_LATER = "451 4.3.0 {what} unavailable, try again later"


@dataclass
class IngestHandler:
    """aiosmtpd hooks: recipients checked at RCPT time, mail accepted at the end of DATA."""

    ports: Ports
    directory: RecipientDirectory
    channel: Channel
    limiter: RateLimiter | None = None
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    # tenants whose token this transaction already took, so a message takes one per tenant
    _charged: weakref.WeakKeyDictionary[Envelope, set[str]] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    async def handle_MAIL(  # noqa: N802  # the hook name aiosmtpd looks up
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.limiter is not None:
            try:
                self.limiter.check_source(f"{self.channel.value}:{_peer(session)}")
            except RateLimitedError as limited:
                log.info("sender rate limited", channel=self.channel.value, peer=_peer(session))
                return smtp_reply(limited)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802  # the hook name aiosmtpd looks up
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            resolution = await self.directory.resolve_one(address)
        except UnavailableError as error:
            return TRY_LATER.format(what=f"the {error.dependency}")
        if not resolution.known:
            log.info("recipient refused", channel=self.channel.value, recipient=resolution.address)
            return f"550 5.1.1 <{resolution.address}>: recipient unknown"
        if self.limiter is not None and resolution.target is not None:
            tenant_id = resolution.target.tenant_id
            charged = self._charged.setdefault(envelope, set())
            key = tenant_key([resolution.address], tenant_id)
            if key is not None and key not in charged:
                try:
                    self.limiter.check_tenant([resolution.address], tenant_id)
                except RateLimitedError as limited:
                    return smtp_reply(limited)
                charged.add(key)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802  # the hook name aiosmtpd looks up
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        task = asyncio.current_task()
        if task is not None:
            self.in_flight.add(task)
        try:
            return await self._accept(session, envelope)
        finally:
            if task is not None:
                self.in_flight.discard(task)

    async def _accept(self, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if not isinstance(raw, bytes) or not raw:
            return "554 5.6.0 Empty message"
        peer = _peer(session)
        try:
            resolved = await self.directory.resolve(envelope.rcpt_tos)
            accepted = await accept_raw_mail(
                raw,
                envelope.rcpt_tos,
                self.ports,
                channel=self.channel,
                source=f"{self.channel.value}:{peer}",
                tenant_id=single_tenant(resolved.values()),
                envelope_sender=envelope.mail_from or None,
            )
        except UnavailableError as error:
            return TRY_LATER.format(what=f"the {error.dependency}")
        except Exception:
            # an MTA bounces on 5xx, so a bug of ours must become a retry, not a lost mail
            log.exception("unexpected error accepting mail", channel=self.channel.value)
            return TRY_LATER.format(what="ingest")
        return f"250 2.0.0 OK {accepted.status} {accepted.event_id}"


def _peer(session: Session) -> str:
    return str(session.peer[0]) if isinstance(session.peer, tuple) else str(session.peer)


class _Replies(SMTP):
    """Rewrites aiosmtpd's own size answer, and (LMTP) repeats post-DATA replies per recipient."""

    # RFC 5321 allows 1,000 octets a line; senders that exceed it still get their mail in
    # (a 500 would bounce it), up to this much, which also bounds a line in memory
    line_length_limit = 64 * 1024
    per_recipient_replies = False
    on_close: Callable[[SMTP], None] | None = None
    _data_rcpts = 0
    _data_started = False

    def connection_lost(self, error: Exception | None) -> None:
        if self.on_close is not None:
            self.on_close(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        text = status.decode() if isinstance(status, bytes) else str(status)
        if text.startswith("552"):
            text = TOO_BIG
        if self.per_recipient_replies and self._data_started and self._data_rcpts > 1:
            text = "\r\n".join([text] * self._data_rcpts)
            self._data_rcpts = 0
        if text.startswith("354") and self._data_rcpts:
            self._data_started = True
        await super().push(text)

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802  # aiosmtpd's command method name
        self._data_rcpts = len(self.envelope.rcpt_tos) if self.envelope else 0
        self._data_started = False
        try:
            await super().smtp_DATA(arg)
        finally:
            self._data_rcpts, self._data_started = 0, False


class IngestSMTP(_Replies):
    """SMTP with postdesk's size answer."""


class IngestLMTP(_Replies, LMTP):
    """LMTP: one reply per recipient after DATA."""

    per_recipient_replies = True


def _authenticator(username: str, password: str) -> Callable[..., AuthResult]:
    expected_login, expected_password = username.encode(), password.encode()

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = hmac.compare_digest(auth_data.login, expected_login) & hmac.compare_digest(
            auth_data.password, expected_password
        )
        if not ok:
            log.warning("smtp auth failed", peer=str(session.peer))
        return AuthResult(success=ok, handled=False)

    return authenticate


def tls_context(settings: ListenerSettings) -> ssl.SSLContext | None:
    if settings.smtp_tls_cert_file is None or settings.smtp_tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.smtp_tls_cert_file, settings.smtp_tls_key_file)
    return context


@dataclass
class Listeners:
    """The running SMTP/LMTP servers; `stop` lets accepted DATA finish within a grace period."""

    servers: dict[str, asyncio.Server] = field(default_factory=dict)
    handlers: list[IngestHandler] = field(default_factory=list)
    connections: set[SMTP] = field(default_factory=set)

    def port(self, name: str) -> int:
        """The bound port of listener `name` ("smtp" or "lmtp"), useful with port 0."""
        return int(self.servers[name].sockets[0].getsockname()[1])

    async def stop(self, grace_seconds: float) -> None:
        for server in self.servers.values():
            server.close()
        in_flight = {task for handler in self.handlers for task in handler.in_flight}
        if in_flight:
            await asyncio.wait(in_flight, timeout=grace_seconds)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        for server in self.servers.values():
            await server.wait_closed()
        self.servers.clear()


async def start_listeners(
    settings: ListenerSettings,
    ports: Ports,
    directory: RecipientDirectory,
    *,
    max_bytes: int,
    limiter: RateLimiter | None = None,
) -> Listeners:
    """Bind the enabled listeners in the running loop; nothing when both are disabled.

    With `limiter`, MAIL FROM takes a token of the client's bucket and each tenant
    named at RCPT a token of the tenant's (451 4.7.1 when empty).
    """
    listeners = Listeners()
    loop = asyncio.get_running_loop()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs each command at INFO
    context = tls_context(settings)
    password = settings.smtp_auth_password
    auth: dict[str, Any] = {}
    if settings.smtp_auth_username is not None and password is not None:
        auth = {
            "authenticator": _authenticator(
                settings.smtp_auth_username, password.get_secret_value()
            ),
            "auth_required": True,
            "auth_require_tls": not settings.smtp_auth_allow_plaintext,
        }

    def factory(protocol: type[_Replies], channel: Channel, **options: Any) -> Callable[[], SMTP]:
        handler = IngestHandler(ports, directory, channel, limiter)
        listeners.handlers.append(handler)

        def make() -> SMTP:
            with warnings.catch_warnings():
                # aiosmtpd warns when AUTH is allowed without TLS, which tests opt into
                warnings.simplefilter("ignore", UserWarning)
                connection = protocol(
                    handler,
                    data_size_limit=max_bytes,
                    hostname=settings.smtp_hostname,
                    ident="postdesk ingest",
                    timeout=settings.smtp_timeout_seconds,
                    loop=loop,
                    **options,
                )
            listeners.connections.add(connection)
            connection.on_close = listeners.connections.discard
            return connection

        return make

    host = settings.listen_host
    if settings.smtp_enabled:
        listeners.servers["smtp"] = await loop.create_server(
            factory(
                IngestSMTP,
                Channel.SMTP,
                tls_context=context,
                require_starttls=settings.smtp_require_tls,
                **auth,
            ),
            host,
            settings.smtp_port,
        )
    if settings.lmtp_enabled:
        listeners.servers["lmtp"] = await loop.create_server(
            factory(IngestLMTP, Channel.LMTP), host, settings.lmtp_port
        )
    for name in listeners.servers:
        log.info("listening", protocol=name, host=host, port=listeners.port(name))
    return listeners
