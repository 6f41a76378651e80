"""A private Debian Postfix for tests: a tenant's submission relay in front of a test sink.

    relay = PostfixRelay(relay_to=sink.port, certificate=certificate,
                         users={"bob": "secret"},
                         sender_logins={"support@acme.example": "bob"},
                         recipient_answers={"busy@customer.example": "451 4.3.2 later"})
    relay.start()            # Postfix (and a Dovecot for SASL when there are users)
    target = relay.target(username="bob", password="secret")
    ...
    relay.stop()             # stops both and removes the directory

Postfix listens on 127.0.0.1 at a free port with STARTTLS (the test
certificate) and, with users, requires AUTH after STARTTLS (Dovecot's SASL
over TCP checks the passwords). Everything accepted is relayed to
`[127.0.0.1]:relay_to`, a test sink, so a test sees what a real relay does
with a message: queue IDs, added Received headers, and a delivery-status
bounce back to the envelope sender when the next hop refuses. The whole
instance (configuration, queue, log) lives in a temporary directory; nothing
of the machine's own mail setup is read or changed. scripts/setup installs
Debian's postfix and dovecot-imapd.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postdesk_smtp.settings import SmtpTarget

from postdesk_testing.smtp import HOST, CertificateFiles

POSTFIX = "/usr/sbin/postfix"
DOVECOT = "/usr/sbin/dovecot"
MASTER_CF = "/etc/postfix/master.cf"
QUEUES = ("incoming", "active", "deferred", "hold", "maildrop")

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
myhostname = relay.postdesk.test
mydomain = postdesk.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relayhost = [127.0.0.1]:{relay_to}
smtp_tls_security_level = none
smtputf8_enable = yes
smtpd_tls_cert_file = {cert_file}
smtpd_tls_key_file = {key_file}
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = {sasl}
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{auth_port}
smtpd_sender_login_maps = {sender_logins}
smtpd_sender_restrictions = {sender_restrictions}
smtpd_relay_restrictions = {relay_restrictions}
smtpd_recipient_restrictions = {recipient_restrictions}
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1h
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""

AUTH_CONF = """\
protocols =
listen = 127.0.0.1
base_dir = {root}/dovecot/run
state_dir = {root}/dovecot/state
log_path = {root}/dovecot/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/dovecot/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/dovecot/home/%u
}}
service auth {{
  inet_listener {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _inline_map(entries: Mapping[str, str]) -> str:
    """A Postfix inline: table (keys and values must not hold braces or commas)."""
    return "inline:{ " + ", ".join(f"{{ {k} = {v} }}" for k, v in entries.items()) + " }"


def _unchrooted_master_cf() -> str:
    """Debian's master.cf with every service out of the chroot (ours has no chroot files)."""
    lines = []
    for line in Path(MASTER_CF).read_text().splitlines():
        fields = line.split()
        if line and not line[0].isspace() and not line.startswith("#") and len(fields) >= 8:
            if fields[4] == "y":
                fields[4] = "n"
            if fields[1] == "inet" and fields[7] == "smtpd":
                continue  # the listener is ours, added below
            line = "  ".join(fields)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _stop_group(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _wait_for_port(process: subprocess.Popen[bytes], port: int, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {within} s")


@dataclass
class PostfixRelay:
    """One private Postfix relaying to 127.0.0.1:`relay_to`.

    `users`: SASL logins (AUTH required for relaying when given; otherwise
    127.0.0.1 may relay without it). `sender_logins`: envelope sender -> the
    login that owns it; a login sending as another sender is refused (553).
    `recipient_answers`: recipient -> the access-table answer Postfix gives
    at RCPT, e.g. "550 5.1.1 no such user" or "451 4.3.2 try later".
    """

    relay_to: int
    certificate: CertificateFiles
    users: dict[str, str] = field(default_factory=dict)
    sender_logins: dict[str, str] = field(default_factory=dict)
    recipient_answers: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    auth_port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="postdesk-postfix-")))
    _postfix: subprocess.Popen[bytes] | None = None
    _dovecot: subprocess.Popen[bytes] | None = None

    def target(self, **overrides: Any) -> SmtpTarget:
        """Settings that reach this relay with STARTTLS, verified against the test CA."""
        values: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "security": "starttls",
            "username": "",
            "password": "",
            "from_domain": "",
            "timeout": 10.0,
            "ca_file": str(self.certificate.ca_file),
        }
        return SmtpTarget(**(values | overrides))

    def start(self, *, within: float = 30.0) -> None:
        for binary in (POSTFIX, DOVECOT):
            if not Path(binary).exists():
                raise RuntimeError(f"{binary} is missing: run scripts/setup")
        if os.getuid() != 0:
            raise RuntimeError("a private Postfix needs root (it drops to the postfix user)")
        self._write_files()
        if self.users:
            self._dovecot = subprocess.Popen(  # noqa: S603  # fixed binary, our own config
                [DOVECOT, "-F", "-c", str(self.root / "dovecot" / "dovecot.conf")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _wait_for_port(self._dovecot, self.auth_port, within, "dovecot (SASL)")
        self._postfix = subprocess.Popen(  # noqa: S603  # fixed binary, our own config
            [POSTFIX, "-c", str(self.root / "etc"), "start-fg"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_for_port(self._postfix, self.port, within, "postfix")
        except RuntimeError as error:
            raise RuntimeError(f"{error}; its log: {self.log()[-2000:]}") from error

    def stop(self) -> None:
        _stop_group(self._postfix)
        _stop_group(self._dovecot)
        self._postfix = self._dovecot = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def queued(self) -> int:
        """Messages still in Postfix's queues (0 once everything was relayed or bounced)."""
        spool = self.root / "spool"
        return sum(1 for queue in QUEUES for path in (spool / queue).rglob("*") if path.is_file())

    def _write_files(self) -> None:
        postfix_user = pwd.getpwnam("postfix")
        os.chmod(self.root, 0o755)  # noqa: S103  # postfix and dovecot must traverse it
        for sub in ("etc", "spool", "data", "dovecot/run", "dovecot/state", "dovecot/home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chown(self.root / "data", postfix_user.pw_uid, postfix_user.pw_gid)
        for path in (self.certificate.cert_file, self.certificate.key_file):
            path.chmod(0o644)  # a throwaway test key; smtpd reads it as postfix
            path.parent.chmod(0o755)
        sender_restrictions = "reject_sender_login_mismatch" if self.sender_logins else ""
        relay = "permit_sasl_authenticated, reject" if self.users else "permit_mynetworks, reject"
        recipients = (
            f"check_recipient_access {_inline_map(self.recipient_answers)}"
            if self.recipient_answers
            else ""
        )
        (self.root / "etc" / "main.cf").write_text(
            MAIN_CF.format(
                root=self.root,
                relay_to=self.relay_to,
                cert_file=self.certificate.cert_file,
                key_file=self.certificate.key_file,
                sasl="yes" if self.users else "no",
                auth_port=self.auth_port,
                sender_logins=_inline_map(self.sender_logins) if self.sender_logins else "",
                sender_restrictions=sender_restrictions,
                relay_restrictions=relay,
                recipient_restrictions=recipients,
            )
        )
        (self.root / "etc" / "master.cf").write_text(
            _unchrooted_master_cf() + f"{HOST}:{self.port} inet n - n - - smtpd\n"
        )
        (self.root / "dovecot" / "dovecot.conf").write_text(
            AUTH_CONF.format(root=self.root, port=self.auth_port)
        )
        (self.root / "dovecot" / "users").write_text(
            "".join(f"{name}:{{PLAIN}}{password}\n" for name, password in self.users.items())
        )
