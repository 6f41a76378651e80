// "Send later": the API takes a send_at in the future, at most 30 days ahead.
import { useId } from "preact/hooks";
import { HintedField } from "./ComposeField";

const MAX_DAYS_AHEAD = 30;

function localInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** The datetime-local value (the browser's time zone) as the API's timestamp. */
export function sendAtIso(local: string): string | null {
  if (!local) return null;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function sendAtProblem(later: boolean, local: string): string | null {
  if (!later) return null;
  const iso = sendAtIso(local);
  if (!iso) return "Choose when to send it.";
  const ahead = new Date(iso).getTime() - Date.now();
  if (ahead <= 0) return "The send time must be in the future.";
  if (ahead > MAX_DAYS_AHEAD * 86_400_000) return `At most ${MAX_DAYS_AHEAD} days ahead.`;
  return null;
}

export function SendLater({
  later,
  at,
  onChange,
}: {
  later: boolean;
  at: string;
  onChange: (change: { later: boolean; at: string }) => void;
}) {
  const hintId = useId();
  const now = new Date();
  const problem = sendAtProblem(later, at);
  return (
    <div class="send-later">
      <label class="check">
        <input
          type="checkbox"
          checked={later}
          onChange={(event) => onChange({ later: event.currentTarget.checked, at })}
        />
        Send later
      </label>
      {later ? (
        <HintedField
          label="Send at"
          hint={problem ?? "Your local time. It can be cancelled until then."}
          hintId={hintId}
        >
          <input
            aria-describedby={hintId}
            type="datetime-local"
            value={at}
            min={localInputValue(now)}
            max={localInputValue(new Date(now.getTime() + MAX_DAYS_AHEAD * 86_400_000))}
            aria-invalid={problem ? "true" : undefined}
            onInput={(event) => onChange({ later, at: event.currentTarget.value })}
          />
        </HintedField>
      ) : null}
    </div>
  );
}
