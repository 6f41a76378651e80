// Where a mail we sent stands: scheduled (with its send time, in the reader's time zone) or
// queued (and can still be cancelled), sent, delayed, failed, bounced, cancelled.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { formatDateTime } from "../../ui/format";

type Message = components["schemas"]["MessageView"];

const NOT_SENT_YET = new Set(["scheduled", "requested"]);

interface Props {
  message: Message;
  /** Whether the reader may try to cancel (the server decides: the requester or an admin). */
  canCancel: boolean;
  onCancelled: () => void;
}

function stateText(message: Message): { text: string; tone: string } | null {
  const reason = message.delivery_failure ? `: ${message.delivery_failure}` : "";
  switch (message.delivery_status) {
    case "scheduled":
      // send_at is null until the outbound service has recorded the mail, and once it goes.
      return message.send_at
        ? { text: `Scheduled for ${formatDateTime(message.send_at)}`, tone: "notice" }
        : { text: "Scheduled: not sent yet", tone: "notice" };
    case "requested":
      return { text: "Queued: about to be sent", tone: "notice" };
    case "deferred":
      return { text: `Delivery delayed, retrying${reason}`, tone: "warn" };
    case "failed":
      return { text: `Delivery failed${reason}`, tone: "error" };
    case "bounced":
      return { text: `Bounced${reason}`, tone: "error" };
    case "cancelled":
      return { text: "Cancelled before it was sent", tone: "notice" };
    default:
      return null;
  }
}

export function ConversationDelivery({ message, canCancel, onCancelled }: Props) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (message.direction !== "outbound") return null;
  const state = stateText(message);
  if (!state) return null;
  const outboundId = message.outbound_id;
  const cancellable = canCancel && !!outboundId && NOT_SENT_YET.has(message.delivery_status ?? "");

  const cancel = async () => {
    if (!outboundId) return;
    setBusy(true);
    setError(null);
    const { error: failure } = await api.POST("/outbound/{outbound_id}/cancel", {
      params: { path: { outbound_id: outboundId } },
    });
    setBusy(false);
    if (failure !== undefined) setError(problemText(failure, "The mail could not be cancelled."));
    else onCancelled();
  };

  return (
    <div class={`banner ${state.tone} delivery-state`} role="status">
      <span>{state.text}</span>
      {cancellable ? (
        <button type="button" disabled={busy} onClick={() => void cancel()}>
          Cancel send
        </button>
      ) : null}
      {error ? <span role="alert">{error}</span> : null}
    </div>
  );
}
