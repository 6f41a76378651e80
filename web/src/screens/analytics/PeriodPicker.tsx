// The report's period: quick ranges ending today, or any first and last day, and whether the
// trend counts per day or per week.
import { Field } from "../../ui/components";
import type { Granularity, Period } from "./report";

const PRESETS: [string, number][] = [
  ["Last 7 days", 7],
  ["Last 30 days", 30],
  ["Last 90 days", 90],
  ["Last 12 months", 365],
];

/** A local calendar day as YYYY-MM-DD (what <input type="date"> and the API use). */
function isoDay(date: Date): string {
  const month = String(date.getMonth() + 1).padStart(2, "0");
  const day = String(date.getDate()).padStart(2, "0");
  return `${date.getFullYear()}-${month}-${day}`;
}

export function lastDays(days: number, today = new Date()): { from: string; to: string } {
  const first = new Date(today);
  first.setDate(today.getDate() - (days - 1));
  return { from: isoDay(first), to: isoDay(today) };
}

export function PeriodPicker({
  period,
  shown,
  onChange,
}: {
  period: Period;
  /** The days the gateway reported on (it fills in defaults). */
  shown: { start: string; end: string } | undefined;
  onChange: (period: Period) => void;
}) {
  return (
    <fieldset class="period-picker">
      <legend>Period</legend>
      <div class="period-presets">
        {PRESETS.map(([label, days]) => (
          <button
            key={label}
            type="button"
            onClick={() =>
              onChange({ ...lastDays(days), granularity: days > 90 ? "week" : period.granularity })
            }
          >
            {label}
          </button>
        ))}
      </div>
      <div class="period-fields">
        <Field label="From">
          <input
            type="date"
            value={period.from ?? shown?.start ?? ""}
            onChange={(event) =>
              onChange({ ...period, from: event.currentTarget.value || undefined })
            }
          />
        </Field>
        <Field label="To">
          <input
            type="date"
            value={period.to ?? shown?.end ?? ""}
            onChange={(event) =>
              onChange({ ...period, to: event.currentTarget.value || undefined })
            }
          />
        </Field>
        <Field label="Points">
          <select
            value={period.granularity}
            onChange={(event) =>
              onChange({ ...period, granularity: event.currentTarget.value as Granularity })
            }
          >
            <option value="day">Per day</option>
            <option value="week">Per week</option>
          </select>
        </Field>
      </div>
    </fieldset>
  );
}
