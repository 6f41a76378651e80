// #/compose: a new mail to a customer. It opens a ticket at once (pending on the customer,
// assigned to you), and the screen moves to it. `?to=` fills in the recipient.
import { useId, useRef, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { currentUser, sendableAccounts } from "../../api/session";
import { navigate, type Route } from "../../router";
import { ErrorBanner, Field, Page } from "../../ui/components";
import { HintedField } from "./ComposeField";
import { AttachmentsField, type SavedAttachment, useAttachments } from "./Attachments";
import { displayAddress, parseRecipients, recipientsProblem } from "./ComposeAddresses";
import { clearDraft, newIdempotencyKey, useStoredDraft } from "./ReplyDraft";
import { SendLater, sendAtIso, sendAtProblem } from "./ReplySendAt";
import { SignatureNote } from "./ReplySignature";
import "./reply.css";

type ComposeRequest = components["schemas"]["ComposeRequest"];

interface ComposeDraft {
  accountId: string;
  to: string;
  cc: string;
  subject: string;
  text: string;
  later: boolean;
  at: string;
  files: SavedAttachment[];
}

const DRAFT_KEY = "compose";
const isEmpty = (draft: ComposeDraft) =>
  !draft.to && !draft.cc && !draft.subject && !draft.text && !draft.files.length;

export function ComposeScreen({ route }: { route: Route }) {
  const accounts = sendableAccounts(currentUser());
  if (!accounts.length) {
    return (
      <Page title="New mail">
        <p>
          You cannot send mail: none of your mailboxes lets you send. A tenant admin can give
          you a primary or backup role on a mailbox.
        </p>
      </Page>
    );
  }
  return <ComposeForm firstAccountId={accounts[0]!.account_id} presetTo={route.query.get("to")} />;
}

function ComposeForm({ firstAccountId, presetTo }: { firstAccountId: string; presetTo: string | null }) {
  const accounts = sendableAccounts(currentUser());
  const empty: ComposeDraft = {
    accountId: firstAccountId,
    to: presetTo ?? "",
    cc: "",
    subject: "",
    text: "",
    later: false,
    at: "",
    files: [],
  };
  const [draft, update] = useStoredDraft<ComposeDraft>(DRAFT_KEY, empty, isEmpty);
  const attachments = useAttachments(draft.files, (files) => update({ files }));
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [touched, setTouched] = useState(false);
  const ids = useId();
  const attempt = useRef<{ body: string; key: string } | null>(null);
  // State updates render later: a second click of a double click still sees sending=false.
  const inFlight = useRef(false);

  // A draft from a mailbox the user may no longer send from falls back to the first one.
  const accountId = accounts.some((a) => a.account_id === draft.accountId)
    ? draft.accountId
    : firstAccountId;
  const to = parseRecipients(draft.to);
  const cc = parseRecipients(draft.cc);
  const toProblem = recipientsProblem(to, true);
  const ccProblem = recipientsProblem(cc, false);
  const whenProblem = sendAtProblem(draft.later, draft.at);
  const failedFiles = attachments.items.some((item) => item.state === "failed");
  const incomplete = !draft.subject.trim() || !draft.text.trim();
  const blocked =
    incomplete || !!toProblem || !!ccProblem || !!whenProblem || attachments.uploading || failedFiles;

  const send = async (event: Event) => {
    event.preventDefault();
    setTouched(true);
    if (inFlight.current || blocked) return;
    inFlight.current = true;
    const body: ComposeRequest = {
      account_id: accountId,
      to: to.recipients,
      cc: cc.recipients,
      subject: draft.subject.trim(),
      text: draft.text,
      attachments: attachments.uploadIds,
      send_at: draft.later ? sendAtIso(draft.at) : null,
    };
    const fingerprint = JSON.stringify(body);
    if (attempt.current?.body !== fingerprint) {
      attempt.current = { body: fingerprint, key: newIdempotencyKey() };
    }
    setSending(true);
    setError(null);
    try {
      const { data, error: failed } = await api.POST("/tickets", {
        params: { header: { "Idempotency-Key": attempt.current.key } },
        body,
      });
      if (failed || !data) {
        setError(problemText(failed, "The mail was not sent."));
        return;
      }
      clearDraft(DRAFT_KEY);
      navigate(`/tickets/${data.ticket_id}`);
    } catch {
      setError("The server could not be reached. Sending again is safe: it will not go twice.");
    } finally {
      inFlight.current = false;
      setSending(false);
    }
  };

  // Address errors show once the field was left or a send was tried, not on each keystroke.
  const [left, setLeft] = useState({ to: false, cc: false });
  const toHint = (touched || left.to) && toProblem ? toProblem : "Addresses separated by commas; the first is the ticket's customer.";
  const ccHint = (touched || left.cc) && ccProblem ? ccProblem : "Optional.";

  return (
    <div class="compose">
      <Page title="New mail">
        <form class="compose-form" onSubmit={send} noValidate>
          <Field label="From">
            <select value={accountId} onChange={(e) => update({ accountId: e.currentTarget.value })}>
              {accounts.map((account) => (
                <option key={account.account_id} value={account.account_id}>
                  {displayAddress(account.display_name, account.address)}
                </option>
              ))}
            </select>
          </Field>
          <HintedField label="To" hint={toHint} hintId={`${ids}-to`}>
            <input
              aria-describedby={`${ids}-to`}
              type="text"
              inputMode="email"
              autoComplete="off"
              value={draft.to}
              aria-invalid={(touched || left.to) && toProblem ? "true" : undefined}
              onInput={(e) => update({ to: e.currentTarget.value })}
              onBlur={() => setLeft((l) => ({ ...l, to: true }))}
            />
          </HintedField>
          <HintedField label="Cc" hint={ccHint} hintId={`${ids}-cc`}>
            <input
              aria-describedby={`${ids}-cc`}
              type="text"
              inputMode="email"
              autoComplete="off"
              value={draft.cc}
              aria-invalid={(touched || left.cc) && ccProblem ? "true" : undefined}
              onInput={(e) => update({ cc: e.currentTarget.value })}
              onBlur={() => setLeft((l) => ({ ...l, cc: true }))}
            />
          </HintedField>
          <Field label="Subject">
            <input
              type="text"
              maxLength={500}
              value={draft.subject}
              onInput={(e) => update({ subject: e.currentTarget.value.replace(/[\r\n]/g, " ") })}
            />
          </Field>
          <Field label="Message">
            <textarea
              rows={12}
              maxLength={200_000}
              value={draft.text}
              onInput={(e) => update({ text: e.currentTarget.value })}
            />
          </Field>
          <SignatureNote />
          <AttachmentsField attachments={attachments} />
          {failedFiles ? (
            <p class="field-hint">Remove the files that could not be uploaded to send.</p>
          ) : null}
          <SendLater later={draft.later} at={draft.at} onChange={(change) => update(change)} />
          <p class="field-hint">
            The new ticket waits on the customer's answer and is assigned to you.
          </p>
          <div class="reply-actions">
            {touched && incomplete ? (
              <span class="field-hint">A subject and a message are needed.</span>
            ) : (
              <span />
            )}
            <button type="submit" class="primary" disabled={sending || attachments.uploading}>
              {sending ? "Sending…" : "Send"}
            </button>
          </div>
          <ErrorBanner message={error} />
        </form>
      </Page>
    </div>
  );
}
