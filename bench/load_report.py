"""Figures bench/load.py derives from its samples, and the table it prints.

- The steady part of a run is the mails completed between the first 10% and
  the last 10% of completions: warm-up (empty pools, first connections) and
  the tail (the last stragglers) are left out.
- CPU per mail is the CPU the measured processes used between the samples
  nearest the steady part's ends, divided by the mails completed in it;
  `system` sums postdesk (or the floor's stages), PostgreSQL and RabbitMQ,
  and the load generator is reported beside it, not in it.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from typing import Any

from load_meters import MACHINE, CpuMeter
from pipeline import percentile

SYSTEM_GROUPS = ("postdesk", "floor", "postgres", "rabbitmq")
OWN_BACKENDS = "postgres, own database"  # a subset of "postgres", for reference


def steady_window(done: Sequence[float], margin: float = 0.1) -> tuple[float, float, int]:
    """(start, end, mails completed in between) of the steady part of `done` times."""
    times = sorted(done)
    first = int(len(times) * margin)
    last = max(first + 1, len(times) - 1 - int(len(times) * margin))
    last = min(last, len(times) - 1)
    return times[first], times[last], last - first


def rate(start: float, end: float, count: int) -> float:
    return round(count / (end - start), 1) if end > start else 0.0


def latency_ms(latencies: Sequence[float]) -> dict[str, float]:
    if not latencies:
        return {}
    ordered = sorted(latencies)
    return {
        "p50": round(percentile(ordered, 50) * 1000, 1),
        "p99": round(percentile(ordered, 99) * 1000, 1),
        "max": round(ordered[-1] * 1000, 1),
    }


def cpu_per_mail(meter: CpuMeter, start: float, end: float, count: int) -> dict[str, Any]:
    """CPU milliseconds per mail of each group and of the system, over [start, end]."""
    seconds = meter.seconds_between(start, end)
    machine = seconds.pop(MACHINE)
    per_mail = {group: round(s * 1000 / max(count, 1), 2) for group, s in seconds.items()}
    system = sum(s for group, s in seconds.items() if group in SYSTEM_GROUPS)
    ours = sum(s for group, s in seconds.items() if group != OWN_BACKENDS)
    window = meter.window_of(start, end)
    return {
        "ms_per_mail": per_mail,
        "machine_busy_s": round(machine, 2),
        "other_processes_s": round(max(0.0, machine - ours), 2),
        "capacity_s": round(window * (os.cpu_count() or 1), 1),
        "system_ms_per_mail": round(system * 1000 / max(count, 1), 2),
        "cpu_seconds": {group: round(s, 2) for group, s in seconds.items()},
        "window_s": round(window, 1),
        "loadavg_1m": meter.load_between(start, end),
    }


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    xs = [t for t, _ in points]
    ys = [v for _, v in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return round(
        sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread * 60, 3
    )


def _row(label: str, value: object, note: str = "") -> str:
    return f"  {label:<44} {value!s:<22} {note}"


def table(result: dict[str, Any]) -> str:
    """The human summary of a load.py result."""
    lines = [f"postdesk load bench  {result['started_at']}  commit {result['commit']}"]
    if throughput := result.get("throughput"):
        cpu = throughput["cpu"]
        lines += [
            "throughput (accept -> assigned, as fast as accepted)",
            _row(
                "mails completed / offered",
                f"{throughput['completed']} / {throughput['count']}",
                f"{throughput['assigned']} opened a ticket and were assigned, the rest joined one",
            ),
            _row("steady mails/s", throughput["steady_mails_per_s"], "target >= 300"),
            _row("accept rate mails/s", throughput["accept_mails_per_s"]),
            _row(
                "CPU ms/mail, system", cpu["system_ms_per_mail"], "target < 6 (postdesk+pg+rabbit)"
            ),
            *(
                _row(f"  CPU ms/mail, {group}", value)
                for group, value in cpu["ms_per_mail"].items()
            ),
            _row(
                "CPU s of other processes / capacity",
                f"{cpu['other_processes_s']} / {cpu['capacity_s']}",
                f"loadavg 1m {cpu['loadavg_1m']['min']:.1f}-{cpu['loadavg_1m']['max']:.1f}",
            ),
        ]
    if latency := result.get("latency"):
        figures = latency["latency_ms"]
        lines += [
            f"latency at {latency['offered_rate']}/s offered for {latency['seconds']} s",
            _row(
                "p50 / p99 / max ms",
                f"{figures.get('p50')} / {figures.get('p99')} / {figures.get('max')}",
                "target p50 < 30, p99 < 100",
            ),
            _row("kept up", latency["kept_up"], latency["kept_up_detail"]),
        ]
    if floor := result.get("floor"):
        lines.append("floor (bare aio-pika + asyncpg, same hops and transactions)")
        for name, run in floor["runs"].items():
            lines.append(
                _row(
                    f"floor {name} steady mails/s",
                    run["steady_mails_per_s"],
                    f"CPU {run['cpu']['system_ms_per_mail']} ms/mail, "
                    f"others {run['cpu']['other_processes_s']}/{run['cpu']['capacity_s']} s",
                )
            )
        for name, ratio in floor.get("postdesk_over_floor", {}).items():
            lines.append(_row(f"postdesk / floor {name}", ratio, "target >= 0.5"))
    if memory := result.get("steady_rss_mib"):
        lines.append("resident memory at steady state (MiB)")
        lines += [_row(name, rss) for name, rss in memory.items()]
    if drain := result.get("drain"):
        lines += [
            f"drain of {drain['queued']} queued mails",
            _row("queue (ingest accept) mails/s", drain["queue_mails_per_s"]),
            _row("drain mails/s", drain["drain_mails_per_s"], f"{drain['drain_seconds']} s"),
        ]
        lines += [
            _row(
                f"  RSS {name} start/peak/end",
                f"{r['start']}/{r['peak']}/{r['end']}",
                f"growth {r['growth']}",
            )
            for name, r in drain["rss_mib"].items()
        ]
    if soak := result.get("soak"):
        lines += [
            f"soak at {soak['rate']}/s for {soak['minutes']} min: {soak['verdict']}",
            *(
                _row(
                    f"  RSS {name} first/last window, slope",
                    f"{s['first']}/{s['last']}",
                    f"{s['slope_per_min']} MiB/min",
                )
                for name, s in soak["rss_mib"].items()
            ),
            _row(
                "queued (all queues) first/last window",
                f"{soak['depth']['first']}/{soak['depth']['last']}",
                f"slope {soak['depth']['slope_per_min']}/min",
            ),
        ]
    return "\n".join(lines)
