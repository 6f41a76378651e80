"""Real SMTP servers for tests: aiosmtpd in the test's own event loop, on 127.0.0.1.

    certificate = make_certificate(tmp_path)          # a test CA and a server cert it signed
    async with smtp_server(tls="starttls", certificate=certificate,
                           users={"bob": "secret"},
                           replies={"RCPT": ["451 4.3.0 try later"]}) as server:
        result = await transmit(server.target(username="bob", password="secret"), ...)
        server.received                                 # what the server accepted

Knobs of `smtp_server`:
- tls: "none", "starttls" (offered, not required) or "tls" (implicit TLS);
- users: login -> password for AUTH (PLAIN and LOGIN unless `auth_mechanisms`
  narrows them; no AUTH at all without users); with tls "starttls" AUTH is
  offered only after STARTTLS;
- replies: per command (MAIL, RCPT, DATA) a queue of scripted replies used
  in turn, one per command received, before the server's normal behaviour;
  a reply "DROP" closes the connection without answering, "HANG" never
  answers. DATA's scripted reply comes after the whole message was read
  (and recorded in `received`), so "DROP" there is the ambiguous case of a
  connection lost before the final reply;
- smtputf8: offer SMTPUTF8.
`silent_server()` accepts TCP connections (the kernel does, from its
backlog) and never says a word: a server that hangs at the greeting.

Servers are closed, with their connections, when the context exits.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from postdesk_smtp.settings import SmtpTarget

HOST = "127.0.0.1"
DROP = "DROP"
HANG = "HANG"
TlsMode = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class CertificateFiles:
    """A test CA (`ca_file`, for clients) and a server certificate it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificate(
    directory: Path,
    *,
    dns_names: Sequence[str] = ("localhost",),
    ip_addresses: Sequence[str] = (HOST,),
) -> CertificateFiles:
    """Write a fresh CA and a server certificate for these names into `directory`."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postdesk test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postdesk test mx")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = CertificateFiles(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server.key",
    )
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@dataclass(frozen=True)
class Received:
    """One message the server accepted (or read, before a scripted DATA reply)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    tls: bool
    login: str | None
    helo: str


@dataclass
class SmtpTestServer:
    host: str
    port: int
    tls: TlsMode
    certificate: CertificateFiles | None
    received: list[Received] = field(default_factory=list)
    auth_attempts: list[tuple[str, str, bool]] = field(default_factory=list)  # mechanism, login, ok
    commands: list[str] = field(default_factory=list)  # MAIL, RCPT, DATA as they came
    senders: list[str] = field(default_factory=list)  # every MAIL FROM accepted (probes too)

    def target(self, **overrides: Any) -> SmtpTarget:
        """An SmtpTarget for this server (its TLS mode, trusting the test CA)."""
        target = SmtpTarget(
            host=self.host,
            port=self.port,
            security=self.tls,
            username="",
            password="",
            from_domain="",
            timeout=10.0,
            ca_file=str(self.certificate.ca_file) if self.certificate else None,
        )
        return replace(target, **overrides)


class _Handler:
    def __init__(self, server: SmtpTestServer, replies: Mapping[str, Sequence[str]] | None) -> None:
        self.server = server
        self.replies = {command: deque(queue) for command, queue in (replies or {}).items()}

    async def _scripted(self, smtp: SMTP, command: str) -> str | None:
        self.server.commands.append(command)
        queue = self.replies.get(command)
        if not queue:
            return None
        reply = queue.popleft()
        if reply in (DROP, HANG):
            if reply == DROP and smtp.transport is not None:
                smtp.transport.close()
            await asyncio.Event().wait()  # cancelled when the connection goes
        return reply

    async def handle_MAIL(  # noqa: N802  # the hook name aiosmtpd looks up
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        scripted = await self._scripted(smtp, "MAIL")
        if scripted is not None:
            return scripted
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        self.server.senders.append(address)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802  # the hook name aiosmtpd looks up
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        scripted = await self._scripted(smtp, "RCPT")
        if scripted is not None:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802  # the hook name aiosmtpd looks up
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        auth = session.auth_data
        self.server.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or b"",
                mail_options=list(envelope.mail_options),
                tls=smtp.transport is not None
                and smtp.transport.get_extra_info("sslcontext") is not None,
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                helo=session.host_name or "",
            )
        )
        scripted = await self._scripted(smtp, "DATA")
        return scripted if scripted is not None else "250 2.0.0 OK queued"


def _authenticator(server: SmtpTestServer, users: Mapping[str, str]) -> Any:
    def authenticate(
        smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = users.get(login) == password
        server.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


@asynccontextmanager
async def smtp_server(
    *,
    tls: TlsMode = "none",
    certificate: CertificateFiles | None = None,
    users: Mapping[str, str] | None = None,
    auth_mechanisms: Sequence[str] = ("PLAIN", "LOGIN"),
    replies: Mapping[str, Sequence[str]] | None = None,
    drop_after_data: bool = False,
    smtputf8: bool = False,
) -> AsyncIterator[SmtpTestServer]:
    """A capturing aiosmtpd server on 127.0.0.1 and a free port (see the module doc)."""
    if tls != "none" and certificate is None:
        raise ValueError("a TLS server needs a certificate")
    loop = asyncio.get_running_loop()
    context = certificate.server_context() if certificate else None
    state = SmtpTestServer(HOST, 0, tls, certificate)
    script = {k: list(v) for k, v in (replies or {}).items()}
    if drop_after_data:
        script["DATA"] = [*script.get("DATA", []), DROP]
    handler = _Handler(state, script)
    connections: list[SMTP] = []

    def factory() -> SMTP:
        smtp = SMTP(
            handler,
            hostname="mx.test",
            tls_context=context if tls == "starttls" else None,
            authenticator=_authenticator(state, users) if users is not None else None,
            # aiosmtpd counts only STARTTLS as TLS for this; implicit TLS is TLS throughout
            auth_require_tls=tls == "starttls",
            auth_exclude_mechanism=[
                m for m in ("PLAIN", "LOGIN") if users is None or m not in auth_mechanisms
            ],
            enable_SMTPUTF8=smtputf8,
            loop=loop,
        )
        connections.append(smtp)
        return smtp

    server = await loop.create_server(
        factory, host=HOST, port=0, ssl=context if tls == "tls" else None
    )
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        sessions = []
        for smtp in connections:
            if smtp.transport is not None:
                smtp.transport.close()
            # cancelled explicitly: after a failed STARTTLS handshake no connection_lost
            # reaches the session, which would wait for its next command for ever
            if smtp._handler_coroutine is not None:
                smtp._handler_coroutine.cancel()
                sessions.append(smtp._handler_coroutine)
        await asyncio.gather(*sessions, return_exceptions=True)
        await server.wait_closed()


@contextmanager
def silent_server() -> Iterator[tuple[str, int]]:
    """(host, port) of a socket that completes TCP handshakes and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield HOST, listener.getsockname()[1]
    finally:
        listener.close()


__all__ = [
    "DROP",
    "HANG",
    "HOST",
    "CertificateFiles",
    "Received",
    "SmtpTestServer",
    "make_certificate",
    "silent_server",
    "smtp_server",
]
