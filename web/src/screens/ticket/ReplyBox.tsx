// The reply form under a ticket: From, text, Cc, files, "send later", "resolve after sending".
// From lists the mailboxes the user may send from (compose's list) and starts at the ticket's;
// an answer to any of them comes back to this ticket (ADR 0016).
import { useId, useRef, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { accessTo, currentUser, sendableAccounts } from "../../api/session";
import { ErrorBanner, Field } from "../../ui/components";
import { AttachmentsField, type SavedAttachment, useAttachments } from "./Attachments";
import { HintedField } from "./ComposeField";
import { displayAddress, parseRecipients, recipientsProblem } from "./ComposeAddresses";
import { newIdempotencyKey, useStoredDraft } from "./ReplyDraft";
import { type Accepted, ReplyOutcome } from "./ReplyOutcome";
import { useReplyingPresence } from "./ReplyPresence";
import { SendLater, sendAtIso, sendAtProblem } from "./ReplySendAt";
import { SignatureNote } from "./ReplySignature";
import "./reply.css";

type TicketDetail = components["schemas"]["TicketDetail"];
type ReplyRequest = components["schemas"]["ReplyRequest"];

interface ReplyDraft {
  /** The chosen From mailbox; "" is the ticket's. */
  from: string;
  text: string;
  cc: string;
  resolve: boolean;
  later: boolean;
  at: string;
  files: SavedAttachment[];
}

const EMPTY: ReplyDraft = {
  from: "",
  text: "",
  cc: "",
  resolve: false,
  later: false,
  at: "",
  files: [],
};
const isEmpty = (draft: ReplyDraft) => !draft.text && !draft.cc && !draft.files.length;

export interface ReplyBoxProps {
  ticket: TicketDetail;
  autoFocus?: boolean;
  onSent: () => void;
}

export function ReplyBox(props: ReplyBoxProps) {
  // Remounted per ticket: each has its own draft, presence and outcome.
  return <ReplyForm key={props.ticket.id} {...props} />;
}

function ReplyForm({ ticket, autoFocus, onSent }: ReplyBoxProps) {
  const mailbox = accessTo(currentUser(), ticket.account_id);
  const senders = sendableAccounts(currentUser());
  const [draft, update, reset] = useStoredDraft<ReplyDraft>(`reply.${ticket.id}`, EMPTY, isEmpty);
  const attachments = useAttachments(draft.files, (files) => update({ files }));
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [accepted, setAccepted] = useState<Accepted | null>(null);
  // One key per distinct request: a retry of the same one (a lost answer) reuses it, so
  // the server queues it once; a double click never gets past `sending`.
  const attempt = useRef<{ body: string; key: string } | null>(null);
  // State updates render later: a second click of a double click still sees sending=false.
  const inFlight = useRef(false);
  const sentDraft = useRef<{ draft: ReplyDraft; resolvedFrom: string | null } | null>(null);

  const ids = useId();

  useReplyingPresence(ticket.id, draft.text.trim() !== "");

  if (!mailbox?.can_send) return null;

  // A draft's From the user may no longer send from falls back to the ticket's mailbox.
  const fromId = senders.some((a) => a.account_id === draft.from) ? draft.from : mailbox.account_id;

  const cc = parseRecipients(draft.cc);
  const ccProblem = recipientsProblem(cc, false);
  const whenProblem = sendAtProblem(draft.later, draft.at);
  const failedFiles = attachments.items.some((item) => item.state === "failed");
  const blocked =
    !draft.text.trim() || attachments.uploading || failedFiles || !!ccProblem || !!whenProblem;

  const send = async (event: Event) => {
    event.preventDefault();
    if (inFlight.current || blocked) return;
    inFlight.current = true;
    const body: ReplyRequest = {
      text: draft.text,
      cc: cc.recipients,
      attachments: attachments.uploadIds,
      send_at: draft.later ? sendAtIso(draft.at) : null,
      // The ticket's own mailbox is the default: the request names only another one.
      ...(fromId !== mailbox.account_id ? { from_account_id: fromId } : {}),
    };
    const fingerprint = JSON.stringify(body);
    if (attempt.current?.body !== fingerprint) {
      attempt.current = { body: fingerprint, key: newIdempotencyKey() };
    }
    setSending(true);
    setError(null);
    setAccepted(null);
    try {
      const { data, error: failed } = await api.POST("/tickets/{ticket_id}/replies", {
        params: {
          path: { ticket_id: ticket.id },
          header: { "Idempotency-Key": attempt.current.key },
        },
        body,
      });
      if (failed || !data) {
        setError(problemText(failed, "The reply was not sent."));
        return;
      }
      attempt.current = null;
      sentDraft.current = { draft, resolvedFrom: null };
      setAccepted({ outbound_id: data.outbound_id, send_at: data.send_at, scheduled: draft.later });
      reset();
      attachments.reset();
      if (draft.resolve && ticket.status !== "resolved") {
        const { error: notResolved } = await api.PATCH("/tickets/{ticket_id}", {
          params: { path: { ticket_id: ticket.id } },
          body: { status: "resolved" },
        });
        if (notResolved) setError(problemText(notResolved, "The ticket was not resolved."));
        else sentDraft.current.resolvedFrom = ticket.status;
      }
      onSent();
    } catch {
      setError("The server could not be reached. Sending again is safe: it will not go twice.");
    } finally {
      inFlight.current = false;
      setSending(false);
    }
  };

  // An undone reply comes back into the form, and so does the ticket's status.
  const restore = async () => {
    const sent = sentDraft.current;
    if (!sent) return;
    sentDraft.current = null;
    reset(sent.draft);
    attachments.reset(sent.draft.files);
    if (sent.resolvedFrom) {
      const { error: failed } = await api.PATCH("/tickets/{ticket_id}", {
        params: { path: { ticket_id: ticket.id } },
        body: { status: sent.resolvedFrom as "open" | "pending" | "closed" },
      });
      if (failed) setError(problemText(failed, "The ticket's status was not restored."));
    }
    onSent();
  };

  return (
    <form class="reply-box" onSubmit={send}>
      <div class="reply-head">
        <HintedField
          label="From"
          hint={
            fromId === mailbox.account_id
              ? "The ticket's mailbox."
              : "Another mailbox: the customer's answer to it still comes back to this ticket."
          }
          hintId={`${ids}-from`}
        >
          <select
            value={fromId}
            aria-describedby={`${ids}-from`}
            onChange={(e) => {
              const chosen = e.currentTarget.value;
              update({ from: chosen === mailbox.account_id ? "" : chosen });
            }}
          >
            {senders.map((account) => (
              <option key={account.account_id} value={account.account_id}>
                {displayAddress(account.display_name, account.address)}
                {account.account_id === mailbox.account_id ? " (this ticket's mailbox)" : ""}
              </option>
            ))}
          </select>
        </HintedField>
        <Field label="To">
          <input
            type="text"
            readOnly
            value={displayAddress(ticket.customer_name, ticket.customer_email)}
          />
        </Field>
        <HintedField
          label="Cc"
          hint={ccProblem ?? "Addresses separated by commas."}
          hintId={`${ids}-cc`}
        >
          <input
            type="text"
            value={draft.cc}
            aria-describedby={`${ids}-cc`}
            autoComplete="off"
            aria-invalid={ccProblem ? "true" : undefined}
            onInput={(e) => update({ cc: e.currentTarget.value })}
          />
        </HintedField>
      </div>
      <Field label="Reply">
        <textarea
          value={draft.text}
          rows={8}
          maxLength={200_000}
          autoFocus={autoFocus}
          onInput={(e) => update({ text: e.currentTarget.value })}
        />
      </Field>
      <SignatureNote />
      <AttachmentsField attachments={attachments} />
      {failedFiles ? (
        <p class="field-hint">Remove the files that could not be uploaded to send.</p>
      ) : null}
      <SendLater
        later={draft.later}
        at={draft.at}
        onChange={(change) => update(change)}
      />
      <div class="reply-actions">
        <label class="check">
          <input
            type="checkbox"
            checked={draft.resolve}
            onChange={(e) => update({ resolve: e.currentTarget.checked })}
          />
          Resolve after sending
        </label>
        <button type="submit" class="primary" disabled={blocked || sending}>
          {sending ? "Sending…" : "Send"}
        </button>
      </div>
      <ErrorBanner message={error} />
      {accepted ? <ReplyOutcome accepted={accepted} onCancelled={restore} /> : null}
    </form>
  );
}
