"""Runs each service as its own process, prefixes its log lines, and stops them gracefully.

Used by `postdesk up` and by the end-to-end tests, which need the same
processes the user runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def entry_point(service: str) -> str:
    """The console script of a service, next to this interpreter when installed in a venv."""
    beside = Path(sys.executable).parent / f"postdesk-{service}"
    if beside.exists():
        return str(beside)
    found = shutil.which(f"postdesk-{service}")
    if found is None:
        raise FileNotFoundError(f"postdesk-{service} is not installed (run `uv sync`)")
    return found


def _pump(prefix: str, stream: IO[bytes], sink: IO[str], lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with lock:
            sink.write(f"{prefix} {line}\n")
            sink.flush()


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    pump: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Supervisor:
    """Starts services with a shared environment; one port each."""

    env: Mapping[str, str]
    ports: Mapping[str, int]
    sink: IO[str] = field(default_factory=lambda: sys.stdout)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, name: str, *, service: str | None = None, **extra_env: str) -> ServiceProcess:
        """Start `service` (default: `name`) as process `name`, e.g. a second replica
        "router-2" of "router", on the port `ports[name]`."""
        env = {**os.environ, **self.env, **extra_env, "HTTP_PORT": str(self.ports[name])}
        process = subprocess.Popen(
            [entry_point(service or name)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None
        width = max(len(n) for n in self.ports)
        pump = threading.Thread(
            target=_pump,
            args=(f"[{name:<{width}}]", process.stdout, self.sink, self._lock),
            daemon=True,
        )
        pump.start()
        started = ServiceProcess(name, self.ports[name], process, pump)
        self.processes[name] = started
        return started

    def start_all(self) -> None:
        for name in self.ports:
            self.start(name)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every started service answers /readyz with 200."""
        deadline = time.monotonic() + timeout
        for service in self.processes.values():
            while not _ready(service.base_url):
                if service.process.poll() is not None:
                    raise RuntimeError(f"{service.name} exited with {service.process.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service.name} not ready after {timeout} s")
                time.sleep(0.1)

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal one service and wait for it; kill it if it outlives `timeout`."""
        service = self.processes.pop(name)
        if service.process.poll() is None:
            service.process.send_signal(sig)
            try:
                service.process.wait(timeout)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        service.pump.join(timeout=5)
        if service.process.stdout is not None:
            service.process.stdout.close()
        return service.process.returncode

    def stop_all(self, timeout: float = 30.0) -> None:
        for service in self.processes.values():
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for name in list(self.processes):
            self.stop(name, timeout=timeout)

    def wait_any_exit(self) -> ServiceProcess:
        while True:
            for service in self.processes.values():
                if service.process.poll() is not None:
                    return service
            time.sleep(0.5)


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:  # noqa: S310  # our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
