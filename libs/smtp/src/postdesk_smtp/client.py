"""Talking SMTP to a tenant's server (aiosmtplib): one mail transaction, or a connection test.

Neither `transmit` nor `probe` raises for trouble on the network or at the
server; they classify it:
- a reply code decides when there is one: 4xx TEMPORARY, 5xx PERMANENT
  (a refused login, 535, too);
- no reply (DNS, a refused or reset connection, a TLS failure, a server
  that does not answer within the timeout, a dropped connection, a server
  without STARTTLS or AUTH) is TEMPORARY: nothing says the message is at
  fault, and once an admin fixes the setting the next attempt goes out;
- a message or address that cannot be put on the wire (control characters,
  a non-ASCII address to a server without SMTPUTF8) is PERMANENT.

`stage` says where it stopped: dns (the host name does not resolve: reported
before any connection, so a typo'd host reads as what it is), connect (TCP,
greeting, EHLO), tls (implicit TLS handshake, or STARTTLS and its
handshake), auth, mail, rcpt, data; done on success. Certificates are always
verified (system trust store, or the target's ca_file); STARTTLS is never
skipped when configured.

A failure at stage data after the message was written (the connection
dropped or timed out before the final reply) is ambiguous: the server may
have the message. It is TEMPORARY, and `before_data` lets the caller record
that it got that far.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from aiosmtplib import (
    SMTP,
    SMTPConnectError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPResponse,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from postdesk_smtp.settings import SmtpTarget

QUIT_TIMEOUT_SECONDS = 5.0
_HELO_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$")
_SMTP_TROUBLE = (SMTPException, OSError, TimeoutError, ValueError)
_SECURITY_NAMES = {"tls": "implicit TLS", "starttls": "STARTTLS", "none": "no TLS"}
T = TypeVar("T")


class Outcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class TransmitResult:
    """How a transaction (or a probe) ended. `response`: the server's last reply
    ("250 2.0.0 queued as X") or, without one, what went wrong, for people.
    `refused`: recipients the server refused, with its reply, when it accepted others
    (outcome SENT) or none (outcome from the refusals: TEMPORARY if any was 4xx)."""

    outcome: Outcome
    response: str
    stage: str
    refused: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SENT

    def summary(self) -> str:
        """One line for logs and smtp_servers.last_test_result."""
        if self.ok:
            return f"ok: {self.response}"
        return f"{self.outcome} failure at {self.stage}: {self.response}"


async def transmit(
    target: SmtpTarget,
    *,
    envelope_from: str,
    recipients: Sequence[str],
    data: bytes,
    before_data: Callable[[], Awaitable[None]],
) -> TransmitResult:
    """Send `data` to `recipients` in one SMTP transaction.

    Recipients are sent to once each, in order. When the server refuses some,
    the message goes to the others (SENT, the refusals in `refused`).
    `before_data()` is awaited right before the DATA command, only when at
    least one recipient was accepted; its exceptions propagate (the
    connection is closed).
    """
    unique = list(dict.fromkeys(r.strip() for r in recipients if r.strip()))
    if not unique:
        return TransmitResult(Outcome.PERMANENT, "the message has no recipients", "rcpt")
    client = _client(target, envelope_from)
    try:
        result = await _transaction(client, target, envelope_from, unique, data, before_data)
    except BaseException:
        client.close()
        raise
    await _quit(client)
    return result


async def probe(target: SmtpTarget, *, envelope_from: str) -> TransmitResult:
    """Test the settings: connect, TLS, login, MAIL FROM and RCPT TO `envelope_from`, RSET,
    QUIT. A refusal at either of the two is the sender's (stage mail).

    SENT (stage done) with a description of the session when the server
    would take mail from that sender; otherwise the stage and reason.
    """
    client = _client(target, envelope_from)
    try:
        result = await _probe(client, target, envelope_from)
    except BaseException:
        client.close()
        raise
    await _quit(client)
    return result


class _SessionEndedError(Exception):
    """Ends a session early with its classified result."""

    def __init__(self, result: TransmitResult) -> None:
        super().__init__(result.response)
        self.result = result


async def _transaction(
    client: SMTP,
    target: SmtpTarget,
    envelope_from: str,
    recipients: list[str],
    data: bytes,
    before_data: Callable[[], Awaitable[None]],
) -> TransmitResult:
    try:
        await _open(client, target)
        options, encoding = _mail_options(client, target, [envelope_from, *recipients], data)
        await _step("mail", target, client.mail(envelope_from, options=options, encoding=encoding))
        refused = await _recipients(client, target, recipients, encoding)
        if len(refused) == len(recipients):
            return _all_refused(refused)
        await before_data()
        reply = await _step("data", target, client.data(data))
    except _SessionEndedError as stopped:
        return stopped.result
    response = _reply(reply)
    if refused:
        response += "; refused " + "; ".join(f"{r}: {why}" for r, why in refused.items())
    return TransmitResult(Outcome.SENT, response, "done", refused)


async def _probe(client: SMTP, target: SmtpTarget, envelope_from: str) -> TransmitResult:
    try:
        await _open(client, target)
        options, encoding = _mail_options(client, target, [envelope_from], b"")
        reply = await _step(
            "mail", target, client.mail(envelope_from, options=options, encoding=encoding)
        )
        if envelope_from:
            # Servers that delay rejections to RCPT (Postfix's default) judge the sender
            # only there: name the sender's own address, never send DATA.
            await _step("mail", target, client.rcpt(envelope_from, encoding=encoding))
    except _SessionEndedError as stopped:
        return stopped.result
    try:
        await client.rset()
    except _SMTP_TROUBLE:
        client.close()  # the test has its answer; QUIT is only politeness
    security = _SECURITY_NAMES.get(target.security, target.security)
    login = f", logged in as {target.username}" if target.username else ""
    return TransmitResult(
        Outcome.SENT,
        f"connected to {_where(target)} with {security}{login}; "
        f"sender {envelope_from or '<>'} accepted: {_reply(reply)}",
        "done",
    )


def _client(target: SmtpTarget, envelope_from: str) -> SMTP:
    return SMTP(
        hostname=target.host,
        port=target.port,
        use_tls=target.security == "tls",
        start_tls=False,  # done explicitly, so that its failure is stage tls
        timeout=target.timeout,
        local_hostname=_helo_name(target, envelope_from),
        validate_certs=True,
        tls_context=_tls_context(
            target.ca_file, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
        ),
    )


@functools.lru_cache(maxsize=16)
def _tls_context(
    ca_file: str | None, env_cert_file: str | None, env_cert_dir: str | None
) -> ssl.SSLContext:
    """A verifying client context, built once per trust store: loading the CAs costs more
    than a handshake. The SSL_CERT_* variables are part of the key because OpenSSL reads
    them when the default store is loaded."""
    del env_cert_file, env_cert_dir  # cache key only
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


def _helo_name(target: SmtpTarget, envelope_from: str) -> str | None:
    """EHLO with the from-domain, else the sender's domain; None lets aiosmtplib use the
    machine's name (a container's is often meaningless to the server)."""
    domain = (target.from_domain or envelope_from.rpartition("@")[2]).strip().rstrip(".")
    try:
        name = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return name if _HELO_NAME.match(name) else None


async def _open(client: SMTP, target: SmtpTarget) -> None:
    """Resolve, connect, greet, STARTTLS when configured, log in when configured."""
    await _resolve(target)
    await _step("connect", target, client.connect())
    await _step("connect", target, _greet(client))
    if target.security == "starttls":
        if not client.supports_extension("starttls"):
            raise _SessionEndedError(
                TransmitResult(
                    Outcome.TEMPORARY,
                    f"{_where(target)} does not offer STARTTLS (security is starttls)",
                    "tls",
                )
            )
        await _step("tls", target, client.starttls())
        await _step("tls", target, _greet(client))
    if target.username:
        await _step("auth", target, client.login(target.username, target.password))


async def _resolve(target: SmtpTarget) -> None:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(target.timeout):
            await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        reason = f"cannot resolve {target.host}: {error.strerror or error}"
        raise _SessionEndedError(TransmitResult(Outcome.TEMPORARY, reason, "dns")) from error
    except TimeoutError as error:
        reason = f"resolving {target.host} took longer than {target.timeout:g} s"
        raise _SessionEndedError(TransmitResult(Outcome.TEMPORARY, reason, "dns")) from error


async def _greet(client: SMTP) -> None:
    """EHLO, or HELO for a server that refuses EHLO."""
    try:
        await client.ehlo()
    except SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()


def _mail_options(
    client: SMTP, target: SmtpTarget, addresses: list[str], data: bytes
) -> tuple[list[str], str]:
    """MAIL FROM parameters and the address encoding: SMTPUTF8 when an address needs it
    (PERMANENT if the server lacks it), BODY=8BITMIME for 8-bit data when offered."""
    options: list[str] = []
    encoding = "ascii"
    if not all(address.isascii() for address in addresses):
        if not client.supports_extension("smtputf8"):
            raise _SessionEndedError(
                TransmitResult(
                    Outcome.PERMANENT,
                    f"{_where(target)} does not support SMTPUTF8, which a non-ASCII address needs",
                    "mail",
                )
            )
        options.append("SMTPUTF8")
        encoding = "utf-8"
    if not data.isascii() and client.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")
    return options, encoding


async def _recipients(
    client: SMTP, target: SmtpTarget, recipients: list[str], encoding: str
) -> dict[str, str]:
    """RCPT TO each; the refused ones with the server's reply."""
    refused: dict[str, str] = {}
    for recipient in recipients:
        try:
            await client.rcpt(recipient, encoding=encoding)
        except SMTPRecipientRefused as error:
            if not client.is_connected:  # 421: the server is closing the session
                raise _SessionEndedError(_classify(error, "rcpt", target)) from error
            refused[recipient] = _reply_of(error.code, error.message)
        except _SMTP_TROUBLE as error:
            raise _SessionEndedError(_classify(error, "rcpt", target)) from error
    return refused


def _all_refused(refused: dict[str, str]) -> TransmitResult:
    temporary = any(reply.startswith("4") for reply in refused.values())
    return TransmitResult(
        Outcome.TEMPORARY if temporary else Outcome.PERMANENT,
        "; ".join(f"{recipient}: {reply}" for recipient, reply in refused.items()),
        "rcpt",
        refused,
    )


async def _step(stage: str, target: SmtpTarget, action: Awaitable[T]) -> T:
    try:
        return await action
    except _SMTP_TROUBLE as error:
        raise _SessionEndedError(_classify(error, stage, target)) from error


def _classify(error: Exception, stage: str, target: SmtpTarget) -> TransmitResult:
    where = _where(target)
    tls_error = _in_chain(error, ssl.SSLError)
    if tls_error is not None:
        reason = getattr(tls_error, "verify_message", "") or tls_error.reason or str(tls_error)
        return TransmitResult(Outcome.TEMPORARY, f"TLS with {where} failed: {reason}", "tls")
    if isinstance(error, SMTPResponseException):
        code = error.code
        outcome = Outcome.PERMANENT if 500 <= code < 600 else Outcome.TEMPORARY
        return TransmitResult(outcome, _reply_of(code, error.message), stage)
    if isinstance(error, SMTPTimeoutError | TimeoutError):
        reason = f"{where} did not answer within {target.timeout:g} s"
        if stage == "data":
            reason += " after the message was sent; it may have been delivered"
        return TransmitResult(Outcome.TEMPORARY, reason, stage)
    if isinstance(error, SMTPServerDisconnected):
        reason = f"{where} closed the connection"
        if stage == "data":
            reason += " before confirming the message; it may have been delivered"
        return TransmitResult(Outcome.TEMPORARY, reason, stage)
    if isinstance(error, SMTPConnectError):
        cause = error.__cause__
        detail = (
            (os.strerror(cause.errno) if cause.errno else str(cause))
            if isinstance(cause, OSError)
            else error.message
        )
        return TransmitResult(Outcome.TEMPORARY, f"cannot connect to {where}: {detail}", stage)
    if isinstance(error, SMTPException):  # no reply code: e.g. no AUTH offered
        return TransmitResult(Outcome.TEMPORARY, f"{where}: {error.message}", stage)
    if isinstance(error, OSError):
        return TransmitResult(Outcome.TEMPORARY, f"connection to {where} failed: {error}", stage)
    return TransmitResult(Outcome.PERMANENT, f"cannot be sent: {error}", stage)


def _in_chain(error: BaseException, kind: type[ssl.SSLError]) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


async def _quit(client: SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit(timeout=min(client.timeout or QUIT_TIMEOUT_SECONDS, QUIT_TIMEOUT_SECONDS))
    except _SMTP_TROUBLE:
        client.close()


def _where(target: SmtpTarget) -> str:
    return f"{target.host}:{target.port}"


def _reply(response: SMTPResponse) -> str:
    return _reply_of(response.code, response.message)


def _reply_of(code: int, message: str) -> str:
    """A reply on one line: multi-line replies joined with spaces."""
    return f"{code} {' '.join(line.strip() for line in message.splitlines())}".strip()


__all__ = ["Outcome", "TransmitResult", "probe", "transmit"]
