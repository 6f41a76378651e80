"""`transmit` and `probe` against real SMTP servers (aiosmtpd on 127.0.0.1, see smtp_servers).

TLS is real: a test CA signs the servers' certificate and the client
verifies it. The only timing here is the short client timeout of the tests
with a server that never answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from postdesk_smtp.client import Outcome, TransmitResult, probe, transmit
from postdesk_smtp.settings import SmtpSettingsError, SmtpTarget
from postdesk_testing.smtp import (
    DROP,
    HANG,
    CertificateFiles,
    SmtpTestServer,
    make_certificate,
    silent_server,
    smtp_server,
)

SENDER = "cs@acme.example"
CAROL = "carol@customer.example"
DAVE = "dave@customer.example"
# a line that starts with a dot, and one that is only a dot: SMTP must stuff both
MESSAGE = (
    b"From: cs@acme.example\r\nTo: carol@customer.example\r\nSubject: Printer\r\n\r\n"
    b"Have you tried water?\r\n.hidden line\r\n.\r\nlast line\r\n"
)
USERS = {"bob": "s3cret pass"}
SHORT_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@dataclass
class BeforeData:
    """A before_data callback that notes, each time it is called, the commands the server
    had received and how many messages it had."""

    server: SmtpTestServer | None = None
    seen: list[tuple[list[str], int]] = field(default_factory=list)

    async def __call__(self) -> None:
        assert self.server is not None
        self.seen.append((list(self.server.commands), len(self.server.received)))


async def send(
    server: SmtpTestServer,
    *,
    recipients: tuple[str, ...] = (CAROL,),
    before_data: Callable[[], Awaitable[None]] | None = None,
    **target: object,
) -> TransmitResult:
    return await transmit(
        server.target(**target),
        envelope_from=SENDER,
        recipients=recipients,
        data=MESSAGE,
        before_data=before_data or BeforeData(server),
    )


class TestSending:
    async def test_starttls_with_auth_plain_delivers_the_exact_message(
        self, certificate: CertificateFiles
    ) -> None:
        async with smtp_server(tls="starttls", certificate=certificate, users=USERS) as server:
            before = BeforeData(server)
            result = await send(server, username="bob", password=USERS["bob"], before_data=before)
        assert result == TransmitResult(Outcome.SENT, "250 2.0.0 OK queued", "done")
        assert before.seen == [(["MAIL", "RCPT"], 0)]  # called once, right before DATA
        [received] = server.received
        assert (received.mail_from, received.rcpt_tos) == (SENDER, [CAROL])
        assert received.data == MESSAGE
        assert (received.tls, received.login) == (True, "bob")
        assert server.auth_attempts == [("PLAIN", "bob", True)]

    async def test_implicit_tls_with_auth_login(self, certificate: CertificateFiles) -> None:
        async with smtp_server(
            tls="tls", certificate=certificate, users=USERS, auth_mechanisms=("LOGIN",)
        ) as server:
            result = await send(server, username="bob", password=USERS["bob"])
        assert result.ok, result
        [received] = server.received
        assert (received.tls, received.login) == (True, "bob")
        assert server.auth_attempts == [("LOGIN", "bob", True)]

    async def test_no_tls_without_auth(self) -> None:
        async with smtp_server() as server:
            result = await send(server)
        assert result.ok, result
        [received] = server.received
        assert (received.tls, received.login) == (False, None)

    async def test_ehlo_names_the_from_domain_else_the_senders_domain(self) -> None:
        async with smtp_server() as server:
            await send(server, from_domain="mail.acme.example")
            await send(server)
        assert [r.helo for r in server.received] == ["mail.acme.example", "acme.example"]

    async def test_a_non_ascii_address_needs_smtputf8(self) -> None:
        recipient = "jürgen@example.de"
        async with smtp_server() as server:
            refused = await send(server, recipients=(recipient,))
        assert (refused.outcome, refused.stage) == (Outcome.PERMANENT, "mail")
        assert "SMTPUTF8" in refused.response
        assert server.commands == []
        async with smtp_server(smtputf8=True) as server:
            sent = await send(server, recipients=(recipient,))
        assert sent.ok, sent
        [received] = server.received
        assert received.rcpt_tos == [recipient]
        assert "SMTPUTF8" in received.mail_options


class TestAuthentication:
    @pytest.mark.parametrize("mechanisms", [("PLAIN",), ("LOGIN",)])
    async def test_a_wrong_password_is_permanent_at_auth(
        self, certificate: CertificateFiles, mechanisms: tuple[str, ...]
    ) -> None:
        async with smtp_server(
            tls="starttls", certificate=certificate, users=USERS, auth_mechanisms=mechanisms
        ) as server:
            result = await send(server, username="bob", password="wrong")
        assert (result.outcome, result.stage) == (Outcome.PERMANENT, "auth")
        assert result.response.startswith("535 ")
        assert server.commands == []
        assert [(m, ok) for m, _, ok in server.auth_attempts] == [(mechanisms[0], False)]

    async def test_a_server_without_auth_is_temporary_at_auth(
        self, certificate: CertificateFiles
    ) -> None:
        async with smtp_server(tls="starttls", certificate=certificate) as server:
            result = await send(server, username="bob", password="x")
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "auth")
        assert "authentication" in result.response.lower()


class TestTls:
    @pytest.mark.parametrize("mode", ["starttls", "tls"])
    async def test_a_certificate_from_an_unknown_ca_fails_at_tls(
        self, certificate: CertificateFiles, mode: str
    ) -> None:
        async with smtp_server(tls=mode, certificate=certificate) as server:  # type: ignore[arg-type]
            result = await send(server, ca_file=None)  # only the system's trust store
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "tls")
        assert "certificate" in result.response
        assert server.commands == []

    @pytest.mark.parametrize("mode", ["starttls", "tls"])
    async def test_a_certificate_for_another_host_fails_at_tls(
        self, tmp_path: Path, mode: str
    ) -> None:
        other = make_certificate(tmp_path, dns_names=("mx.other.example",), ip_addresses=())
        async with smtp_server(tls=mode, certificate=other) as server:  # type: ignore[arg-type]
            result = await send(server)
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "tls")
        assert "mismatch" in result.response
        assert server.commands == []

    async def test_the_host_name_is_checked_too(self, certificate: CertificateFiles) -> None:
        async with smtp_server(tls="starttls", certificate=certificate) as server:
            result = await send(server, host="localhost")  # the certificate names localhost
        assert result.ok, result

    async def test_starttls_is_never_skipped(self) -> None:
        async with smtp_server(tls="none") as server:
            result = await send(server, security="starttls")
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "tls")
        assert "does not offer STARTTLS" in result.response
        assert server.commands == []

    async def test_implicit_tls_to_a_plain_server_fails_at_tls(self) -> None:
        async with smtp_server(tls="none") as server:
            result = await send(server, security="tls")
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "tls")
        assert server.commands == []


class TestReplies:
    async def test_4xx_on_rcpt_is_temporary_then_the_retry_succeeds(self) -> None:
        async with smtp_server(replies={"RCPT": ["451 4.3.0 try again later"]}) as server:
            before = BeforeData(server)
            first = await send(server, before_data=before)
            second = await send(server, before_data=before)
        assert first == TransmitResult(
            Outcome.TEMPORARY,
            f"{CAROL}: 451 4.3.0 try again later",
            "rcpt",
            {CAROL: "451 4.3.0 try again later"},
        )
        assert second.ok, second
        assert before.seen == [(["MAIL", "RCPT", "MAIL", "RCPT"], 0)]  # not for the refused one
        assert len(server.received) == 1

    async def test_4xx_after_data_is_temporary_then_the_retry_succeeds(self) -> None:
        async with smtp_server(replies={"DATA": ["452 4.3.1 insufficient storage"]}) as server:
            first = await send(server)
            second = await send(server)
        assert first == TransmitResult(Outcome.TEMPORARY, "452 4.3.1 insufficient storage", "data")
        assert second.ok, second

    @pytest.mark.parametrize(
        ("command", "stage"), [("MAIL", "mail"), ("RCPT", "rcpt"), ("DATA", "data")]
    )
    async def test_5xx_is_permanent(self, command: str, stage: str) -> None:
        reply = "550 5.7.1 refused by policy"
        async with smtp_server(replies={command: [reply]}) as server:
            result = await send(server)
        assert (result.outcome, result.stage) == (Outcome.PERMANENT, stage)
        assert reply in result.response

    async def test_refused_recipients_do_not_stop_the_others(self) -> None:
        async with smtp_server(replies={"RCPT": ["550 5.1.1 no such user"]}) as server:
            result = await send(server, recipients=(DAVE, CAROL))
        assert (result.outcome, result.stage) == (Outcome.SENT, "done")
        assert result.refused == {DAVE: "550 5.1.1 no such user"}
        assert DAVE in result.response
        [received] = server.received
        assert received.rcpt_tos == [CAROL]

    async def test_all_refused_is_temporary_when_one_refusal_is(self) -> None:
        replies = {"RCPT": ["550 5.1.1 no such user", "450 4.2.1 mailbox busy"]}
        async with smtp_server(replies=replies) as server:
            before = BeforeData(server)
            result = await send(server, recipients=(DAVE, CAROL), before_data=before)
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "rcpt")
        assert set(result.refused) == {DAVE, CAROL}
        assert before.seen == []
        assert server.commands == ["MAIL", "RCPT", "RCPT"]


class TestBrokenServers:
    async def test_a_server_that_never_answers_times_out(self) -> None:
        with silent_server() as (host, port):
            result = await transmit(
                SmtpTarget(host, port, "none", "", "", "", SHORT_TIMEOUT),
                envelope_from=SENDER,
                recipients=[CAROL],
                data=MESSAGE,
                before_data=BeforeData(),
            )
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "connect")
        assert result.response == f"{host}:{port} did not answer within {SHORT_TIMEOUT:g} s"

    async def test_a_server_that_hangs_after_the_message_is_ambiguous(self) -> None:
        async with smtp_server(replies={"DATA": [HANG]}) as server:
            result = await send(server, timeout=SHORT_TIMEOUT)
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "data")
        assert "may have been delivered" in result.response
        assert len(server.received) == 1

    async def test_a_connection_dropped_after_data_is_temporary(self) -> None:
        async with smtp_server(drop_after_data=True) as server:
            before = BeforeData(server)
            result = await send(server, before_data=before)
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "data")
        assert "closed the connection before confirming" in result.response
        assert before.seen == [(["MAIL", "RCPT"], 0)]
        assert len(server.received) == 1  # the server had it: the caller must expect that

    async def test_a_connection_dropped_at_mail(self) -> None:
        async with smtp_server(replies={"MAIL": [DROP]}) as server:
            result = await send(server)
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "mail")
        assert "closed the connection" in result.response

    async def test_a_refused_connection(self) -> None:
        with silent_server() as (host, port):
            pass  # closed: nothing listens on the port any more
        result = await send_to(SmtpTarget(host, port, "none", "", "", "", 5.0))
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "connect")
        assert result.response == f"cannot connect to {host}:{port}: Connection refused"

    async def test_a_host_that_does_not_resolve_fails_at_dns(self) -> None:
        """A name that does not resolve is a setting to fix, not a fault of the message:
        TEMPORARY (the queued mail goes out once the host is fixed), stage dns."""
        result = await send_to(SmtpTarget("smtp.postdesk.invalid", 587, "starttls", "", "", "", 5))
        assert (result.outcome, result.stage) == (Outcome.TEMPORARY, "dns")
        assert result.response.startswith("cannot resolve smtp.postdesk.invalid: ")

    async def test_before_data_errors_propagate(self) -> None:
        async def failing() -> None:
            raise RuntimeError("the database is gone")

        async with smtp_server() as server:
            with pytest.raises(RuntimeError, match="database is gone"):
                await send(server, before_data=failing)
        assert server.received == []


async def send_to(target: SmtpTarget) -> TransmitResult:
    return await transmit(
        target,
        envelope_from=SENDER,
        recipients=[CAROL],
        data=MESSAGE,
        before_data=BeforeData(),
    )


class TestProbe:
    async def test_success_describes_the_session(self, certificate: CertificateFiles) -> None:
        async with smtp_server(tls="starttls", certificate=certificate, users=USERS) as server:
            result = await probe(
                server.target(username="bob", password=USERS["bob"]), envelope_from=SENDER
            )
        assert (result.outcome, result.stage) == (Outcome.SENT, "done")
        assert result.response == (
            f"connected to 127.0.0.1:{server.port} with STARTTLS, logged in as bob; "
            f"sender {SENDER} accepted: 250 OK"
        )
        assert server.commands == ["MAIL", "RCPT"]  # RCPT to the sender itself, no DATA
        assert server.received == []

    async def test_a_refused_sender_fails_at_mail(self) -> None:
        reply = "553 5.7.1 sender not allowed for this login"
        async with smtp_server(replies={"MAIL": [reply]}) as server:
            result = await probe(server.target(), envelope_from=SENDER)
        assert result == TransmitResult(Outcome.PERMANENT, reply, "mail")

    async def test_a_sender_refused_only_at_rcpt_fails_at_mail(self) -> None:
        """Servers that delay restrictions (Postfix's smtpd_delay_reject) refuse at RCPT."""
        reply = "553 5.7.1 <other@acme.example>: Sender address rejected: not owned by user bob"
        async with smtp_server(replies={"RCPT": [reply]}) as server:
            result = await probe(server.target(), envelope_from=SENDER)
        assert result == TransmitResult(Outcome.PERMANENT, reply, "mail")
        assert server.received == []

    async def test_bad_credentials_fail_at_auth(self, certificate: CertificateFiles) -> None:
        async with smtp_server(tls="tls", certificate=certificate, users=USERS) as server:
            result = await probe(
                server.target(username="bob", password="nope"), envelope_from=SENDER
            )
        assert (result.outcome, result.stage) == (Outcome.PERMANENT, "auth")
        assert result.summary().startswith("permanent failure at auth: 535 ")

    async def test_dns_failure(self) -> None:
        result = await probe(
            SmtpTarget("smtp.postdesk.invalid", 465, "tls", "", "", "", 5), envelope_from=SENDER
        )
        assert result.stage == "dns"


class TestTarget:
    def test_the_password_stays_out_of_the_repr(self) -> None:
        target = SmtpTarget("smtp.example.com", 587, "starttls", "bob", "hunter2", "", 30)
        assert "hunter2" not in repr(target)

    @pytest.mark.parametrize(
        ("host", "port", "security", "timeout"),
        [
            ("", 587, "starttls", 30),
            ("smtp example.com", 587, "starttls", 30),
            ("smtp.example.com", 0, "starttls", 30),
            ("smtp.example.com", 587, "ssl", 30),
            ("smtp.example.com", 587, "tls", 0),
        ],
    )
    def test_a_target_that_cannot_work_is_refused(
        self, host: str, port: int, security: str, timeout: float
    ) -> None:
        with pytest.raises(SmtpSettingsError):
            SmtpTarget(host, port, security, "", "", "", timeout)
