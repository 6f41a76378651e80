"""A private Dovecot IMAP server for tests: its own config, port, users and maildirs.

`Dovecot.start()` writes a minimal Dovecot 2.3 configuration into a
temporary directory (listen on 127.0.0.1 at a free port, plaintext login
allowed, passwd-file users, maildir under the directory) and runs
`dovecot -F -c <conf>` as a child process; `stop()` ends it and `restart()`
brings it back on the same port with the same mail. As root, the mail is
owned by the `dovecot` system user (Dovecot refuses mail access as UID 0);
otherwise everything runs as the current user. Nothing is installed here:
scripts/setup installs dovecot-imapd.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
mailbox_list_index = no
imap_idle_notify_interval = 2 mins
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{login_extra}}}
service anvil {{
{login_extra}}}
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
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    """One running Dovecot; `users` maps login to password."""

    users: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="postdesk-dovecot-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    def write_config(self) -> None:
        as_root = os.getuid() == 0
        if as_root:
            mail_user = pwd.getpwnam("dovecot")
            internal, internal_group, login = "dovecot", "dovecot", "dovenull"
            login_extra = ""
        else:
            mail_user = pwd.getpwuid(os.getuid())
            internal = login = mail_user.pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
            login_extra = "  chroot =\n"  # chroot needs root
        os.chmod(self.root, 0o755)  # noqa: S103  # the mail user must traverse it
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(exist_ok=True)
        for sub in ("mail", "home"):
            os.chown(self.root / sub, mail_user.pw_uid, mail_user.pw_gid)
        self._write_users()
        self.config_path.write_text(
            CONFIG.format(
                root=self.root,
                port=self.port,
                uid=mail_user.pw_uid,
                gid=mail_user.pw_gid,
                internal_user=internal,
                internal_group=internal_group,
                login_user=login,
                login_extra=login_extra,
            )
        )

    def add_user(self, name: str, password: str) -> None:
        """A new login; Dovecot notices the changed passwd-file up to a second later."""
        self.users[name] = password
        if self.config_path.exists():
            self._write_users()

    def _write_users(self) -> None:
        (self.root / "users").write_text(
            "".join(f"{name}:{{PLAIN}}{password}\n" for name, password in self.users.items())
        )

    def start(self, *, within: float = 15.0) -> None:
        if not Path(DOVECOT).exists():
            raise RuntimeError(f"{DOVECOT} is missing: run scripts/setup (installs dovecot-imapd)")
        if not self.config_path.exists():
            self.write_config()
        self.process = subprocess.Popen(  # fixed binary, our own config
            [DOVECOT, "-F", "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._diagnostics()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 1) as s,
            ):
                if s.recv(100).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen within {within} s: {self._diagnostics()}")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server and every process it started (SIGKILL when `kill`)."""
        if self.process is None:
            return
        sig = signal.SIGKILL if kill else signal.SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
        # children may outlive the master for a moment; wait until the port is free
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), 0.2):
                    pass
            except OSError:
                return
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _diagnostics(self) -> str:
        log = self.root / "dovecot.log"
        stderr = b""
        if (
            self.process is not None
            and self.process.stderr is not None
            and self.process.poll() is not None
        ):
            stderr = self.process.stderr.read()
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        return f"{stderr.decode(errors='replace')}\n{tail}"
