"""A RabbitMQ node of one test's own, whose broker the test may stop and start at will.

The machine's shared node is used by other tests and sessions, so a scenario
that takes the broker down must never touch it. `private_rabbitmq` starts a
second node of the installed RabbitMQ (`pd-fault-<random>@localhost`) with
its data, logs, configuration and pid file in a temporary directory, AMQP
on 127.0.0.1 and a free port, no plugins; the default `guest` user on the
default virtual host. `stop_app` and `start_app` take the broker down and up
again while the Erlang node (and so the control channel) stays. On the way
out the node is stopped, killed if it will not stop, and the directory
removed.

RabbitMQ runs as the `rabbitmq` OS user (as the installed node does; with
its Erlang cookie, which `rabbitmqctl` needs): under root every command is
run as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.faults.private_postgres import free_port

RABBITMQ_USER = "rabbitmq"
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


@dataclass
class PrivateRabbit:
    root: Path
    node: str
    port: int
    dist_port: int

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def pid_file(self) -> Path:
        return self.root / "node.pid"

    def _env(self) -> dict[str, str]:
        home = pwd.getpwnam(RABBITMQ_USER).pw_dir if os.geteuid() == 0 else os.environ["HOME"]
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,  # its Erlang cookie, shared with rabbitmqctl
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            # not /etc/rabbitmq/rabbitmq-env.conf, which names the installed node
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_START_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _command(self, program: str, *args: str) -> list[str]:
        command = [
            "env",
            *(f"{k}={v}" for k, v in self._env().items()),
            str(RABBITMQ_BIN / program),
        ]
        if os.geteuid() == 0:
            command = ["runuser", "-u", RABBITMQ_USER, "--", *command]
        return [*command, *args]

    def _run(self, program: str, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            self._command(program, *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}"
                f"\n--- node log ---\n{self.log_tail()}"
            )
        return done.stdout

    def log_tail(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")[-3000:] for path in (self.root / "log").glob("*.log")
        )

    def ctl(self, *args: str, timeout: float = 60) -> str:
        return self._run("rabbitmqctl", "-n", self.node, *args, timeout=timeout)

    def configure(self) -> None:
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "disk_free_limit.absolute = 50MB\n"
            "log.console = false\n"
        )

    def start(self, within: int = 90) -> None:
        """Start the node detached and wait until its broker runs."""
        self._run("rabbitmq-server", "-detached", timeout=30)
        deadline = time.monotonic() + within
        while True:  # `await_startup` fails at once until the new node has registered
            try:
                self.ctl("await_startup", "--timeout", "30", timeout=45)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop_app(self) -> None:
        """Stop the broker: every connection is closed; the Erlang node stays up."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup", "--timeout", "60", timeout=75)

    def stop_node(self) -> None:
        try:
            self.ctl("stop", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            # the node will not stop (or never came up): kill the process we started
            with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
                os.kill(int(self.pid_file.read_text().strip()), signal.SIGKILL)


@contextmanager
def private_rabbitmq() -> Iterator[PrivateRabbit]:
    """A started private node; stopped and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="pd-rmq-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(RABBITMQ_USER)
        os.chown(root, owner.pw_uid, owner.pw_gid)
    port = free_port()
    dist_port = next(other for other in iter(free_port, None) if other != port)
    rabbit = PrivateRabbit(root, f"pd-fault-{uuid.uuid4().hex[:8]}@localhost", port, dist_port)
    rabbit.configure()
    try:
        rabbit.start()
        yield rabbit
    finally:
        try:
            rabbit.stop_node()
        finally:
            shutil.rmtree(root, ignore_errors=True)
