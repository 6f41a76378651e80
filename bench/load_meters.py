"""What bench/load.py measures on the machine: CPU seconds per group of processes, resident
memory per service, and the depth of every postdesk queue.

CPU groups are found by name each time they are sampled, so processes that
start later (a PostgreSQL backend for a new connection) are counted, and
those that end keep the last CPU time seen (at most one sampling interval
of theirs is lost). Processes are keyed by (pid, start time), so a reused
pid is a new process.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Self, TypeAlias

import aio_pika
import psutil
from postdesk_contracts.topology import SUBSCRIPTIONS

MACHINE = "machine (all processes)"
ProcessKey: TypeAlias = tuple[int, float]
GroupFinder: TypeAlias = Callable[[], Iterable[psutil.Process]]


def cpu_of(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def with_children(pid: int) -> list[psutil.Process]:
    """The process and all its descendants; empty when it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def by_name(*names: str) -> GroupFinder:
    """Every process whose name is one of `names`, with its descendants (beam.smp's
    erl_child_setup and inet_gethost, for one)."""

    def find() -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for process in psutil.process_iter(["name"]):
            if process.info["name"] in names:
                for member in with_children(process.pid):
                    found[member.pid] = member
        return list(found.values())

    return find


def by_pids(pids: Callable[[], Iterable[int]], *, children: bool = True) -> GroupFinder:
    """The processes `pids()` names now, with their descendants unless `children` is False
    (the bench's own process, whose children are the stack)."""

    def find() -> list[psutil.Process]:
        if not children:
            return [psutil.Process(pid) for pid in pids()]
        return [member for pid in pids() for member in with_children(pid)]

    return find


def postgres_backends_of(database: str) -> GroupFinder:
    """The PostgreSQL backends serving `database` (their process title names it)."""

    def find() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["name", "cmdline"]):
            title = " ".join(process.info["cmdline"] or [])
            if process.info["name"] == "postgres" and f" {database} " in title:
                found.append(process)
        return found

    return find


def machine_busy_seconds() -> float:
    """CPU seconds every processor spent busy since boot, whoever used them."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + times.irq + times.softirq + times.steal)


@dataclass(kw_only=True)
class PeriodicSampler:
    """Calls `sample()` every `interval` seconds in a thread while entered, and once as it
    is entered and left."""

    interval: float = 1.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> Self:
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()


@dataclass
class CpuMeter(PeriodicSampler):
    """CPU seconds of named process groups, sampled every `interval` seconds in a thread.

    `seconds_between(t0, t1)` is the CPU each group used between the samples nearest two
    `time.monotonic()` instants, and under MACHINE the busy CPU of the whole machine (so
    what other processes took is visible); `load` records the 1-minute load average.
    """

    groups: Mapping[str, GroupFinder]
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    load: list[tuple[float, float]] = field(default_factory=list)
    _seen: dict[str, dict[ProcessKey, float]] = field(default_factory=dict)
    _baseline: dict[str, dict[ProcessKey, float]] = field(default_factory=dict)
    _machine_start: float = 0.0

    def sample(self) -> None:
        totals: dict[str, float] = {}
        for group, find in self.groups.items():
            seen = self._seen.setdefault(group, {})
            baseline = self._baseline.setdefault(group, {})
            first = not self.samples
            for process in find():
                try:
                    key = (process.pid, process.create_time())
                    seen[key] = cpu_of(process)
                except psutil.Error:
                    continue
                if first:
                    baseline[key] = seen[key]
            totals[group] = sum(cpu - baseline.get(key, 0.0) for key, cpu in seen.items())
        busy = machine_busy_seconds()
        if not self.samples:
            self._machine_start = busy
        totals[MACHINE] = busy - self._machine_start
        now = time.monotonic()
        self.samples.append((now, totals))
        self.load.append((now, os.getloadavg()[0]))

    def _at(self, instant: float) -> dict[str, float]:
        times = [t for t, _ in self.samples]
        index = min(bisect.bisect_left(times, instant), len(times) - 1)
        if index > 0 and instant - times[index - 1] < times[index] - instant:
            index -= 1
        return self.samples[index][1]

    def seconds_between(self, start: float, end: float) -> dict[str, float]:
        first, last = self._at(start), self._at(end)
        return {
            group: last.get(group, 0.0) - first.get(group, 0.0) for group in [*self.groups, MACHINE]
        }

    def window_of(self, start: float, end: float) -> float:
        """The time between the samples `seconds_between(start, end)` uses."""
        times = [t for t, _ in self.samples]

        def nearest(instant: float) -> float:
            return min(times, key=lambda t: abs(t - instant))

        return nearest(end) - nearest(start)

    def load_between(self, start: float, end: float) -> dict[str, float]:
        values = [v for t, v in self.load if start <= t <= end] or [v for _, v in self.load[-1:]]
        return {"min": min(values), "max": max(values)}


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants, in MiB (0 when it is gone)."""
    total = 0
    for process in with_children(pid):
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return round(total / 2**20, 1)


@dataclass
class RssSampler(PeriodicSampler):
    """Each service's RSS every `interval` seconds, in a thread; `series[name]` is
    [(monotonic time, MiB)]."""

    pids: Callable[[], Mapping[str, int]]
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def sample(self) -> None:
        now = time.monotonic()
        for name, pid in self.pids().items():
            self.series.setdefault(name, []).append((now, rss_mib(pid)))

    def summary(self) -> dict[str, dict[str, float]]:
        """Start, peak and end RSS (MiB) of each service, and the growth end - start."""
        return {
            name: {
                "start": points[0][1],
                "peak": max(v for _, v in points),
                "end": points[-1][1],
                "growth": round(points[-1][1] - points[0][1], 1),
            }
            for name, points in self.series.items()
        }


def postdesk_queue_names() -> list[str]:
    """Every queue the topology declares, with its dead-letter queue."""
    return [name for spec in SUBSCRIPTIONS for name in (spec.name, spec.dead_letter_name)]


async def queue_depths(
    connection: aio_pika.abc.AbstractConnection, names: Iterable[str]
) -> dict[str, int]:
    """Ready messages of each existing queue (a passive declare; absent queues are left out,
    each absence costing the channel, which the broker closes)."""
    depths: dict[str, int] = {}
    channel = await connection.channel()
    for name in names:
        try:
            queue = await channel.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            channel = await connection.channel()
            continue
        depths[name] = queue.declaration_result.message_count or 0
    await channel.close()
    return depths
