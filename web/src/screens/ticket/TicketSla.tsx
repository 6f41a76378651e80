// The ticket's SLA clocks: when each target is due, how long is left, or that it was missed.
import { useEffect, useState } from "preact/hooks";
import type { components } from "../../api/schema";
import { formatDateTime, formatDuration, formatRelative } from "../../ui/format";

type Clock = components["schemas"]["SlaClockView"];

const TARGET_LABEL: Record<string, string> = {
  first_response: "First response",
  resolution: "Resolution",
};

function clockText(clock: Clock, now: number): { text: string; tone: string } {
  if (clock.breached_at) {
    const stillRunning = clock.state !== "stopped" ? ", still open" : "";
    return { text: `breached ${formatDateTime(clock.breached_at)}${stillRunning}`, tone: "danger" };
  }
  if (clock.state === "stopped") {
    return { text: `met ${formatDateTime(clock.stopped_at)}`, tone: "ok" };
  }
  if (clock.state === "paused") {
    return {
      text: `paused (waiting on the customer), ${formatDuration(clock.remaining_seconds)} left`,
      tone: "",
    };
  }
  const due = new Date(clock.due_at).getTime();
  if (due <= now) return { text: `overdue since ${formatDateTime(clock.due_at)}`, tone: "danger" };
  const warned = clock.warned_at || new Date(clock.warn_at).getTime() <= now;
  return {
    text: `due ${formatDateTime(clock.due_at)} (${formatRelative(clock.due_at, now)})`,
    tone: warned ? "warn" : "ok",
  };
}

const TICK_MS = 30_000;

export function TicketSla({ clocks }: { clocks: Clock[] }) {
  // Re-rendered every half minute so "time left" and "overdue" stay true while open.
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), TICK_MS);
    return () => window.clearInterval(timer);
  }, []);
  if (!clocks.length) return null;
  return (
    <ul class="ticket-sla" aria-label="SLA">
      {clocks.map((clock) => {
        const { text, tone } = clockText(clock, now);
        return (
          <li key={clock.target} class={`sla-clock ${tone}`}>
            <span class="sla-target">SLA {TARGET_LABEL[clock.target] ?? clock.target}:</span> {text}
          </li>
        );
      })}
    </ul>
  );
}
