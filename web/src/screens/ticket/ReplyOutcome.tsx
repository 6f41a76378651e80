// What became of a send: queued (undoable until its send time), scheduled, or cancelled.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import { ErrorBanner } from "../../ui/components";
import { formatDateTime } from "../../ui/format";

export interface Accepted {
  outbound_id: string;
  send_at?: string | null;
  /** Whether the user chose the send time (else it is the tenant's undo window). */
  scheduled: boolean;
}

/** True until `iso` passes (re-rendering at that moment). */
function useBefore(iso: string | null | undefined): boolean {
  const left = iso ? new Date(iso).getTime() - Date.now() : 0;
  const [, setTick] = useState(0);
  useEffect(() => {
    if (left <= 0) return;
    // setTimeout's longest delay is ~24.8 days; a later send time re-checks then.
    const timer = window.setTimeout(() => setTick((n) => n + 1), Math.min(left, 2 ** 31 - 1));
    return () => window.clearTimeout(timer);
  }, [iso, left > 0]);
  return left > 0;
}

export function ReplyOutcome({
  accepted,
  onCancelled,
}: {
  accepted: Accepted;
  onCancelled: () => void;
}) {
  const [cancelled, setCancelled] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const undoable = useBefore(accepted.send_at);

  const cancel = async () => {
    setBusy(true);
    setError(null);
    const { error: failed } = await api.POST("/outbound/{outbound_id}/cancel", {
      params: { path: { outbound_id: accepted.outbound_id } },
    });
    setBusy(false);
    if (failed) {
      setError(problemText(failed, "The mail could not be cancelled."));
      return;
    }
    setCancelled(true);
    onCancelled();
  };

  if (cancelled) {
    return (
      <div class="banner notice" role="status">
        Cancelled: the mail was not sent.
      </div>
    );
  }
  return (
    <div class="reply-outcome">
      <div class="banner notice" role="status">
        {accepted.scheduled && accepted.send_at
          ? `Scheduled for ${formatDateTime(accepted.send_at)}`
          : "Sent"}
        {!accepted.scheduled && undoable && accepted.send_at
          ? ` (it leaves at ${new Date(accepted.send_at).toLocaleTimeString()}; you can still cancel it)`
          : null}
      </div>
      {undoable ? (
        <button type="button" class="danger" disabled={busy} onClick={cancel}>
          Cancel send
        </button>
      ) : null}
      <ErrorBanner message={error} />
    </div>
  );
}
