// One message of the conversation: who, to whom, when, why it joined; its new text, and the
// full mail on demand (HTML only in an empty-sandbox frame).
import { useEffect, useState } from "preact/hooks";
import { fetchWithSession } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { Badge } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { ConversationAttachments } from "./ConversationAttachments";
import { ConversationDelivery } from "./ConversationDelivery";
import {
  addressList,
  addressText,
  directionOf,
  hasRemoteImages,
  matchReason,
  newText,
  withRemoteImages,
} from "./ConversationText";

type Message = components["schemas"]["MessageView"];

const DIRECTION_LABEL = { customer: "Customer", agent: "Agent", automatic: "Automatic" } as const;

async function fetchHtml(messageId: string): Promise<string> {
  const response = await fetchWithSession(`/messages/${messageId}/html`);
  if (!response.ok) {
    const problem: unknown = await response.json().catch(() => null);
    throw new Error(problemText(problem, `The message could not be loaded (${response.status}).`));
  }
  return response.text();
}

function FullMessage({ message }: { message: Message }) {
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [remoteImages, setRemoteImages] = useState(false);
  const hasHtml = !!message.html_body;
  useEffect(() => {
    if (!hasHtml) return;
    let current = true;
    fetchHtml(message.id).then(
      (body) => current && setHtml(body),
      (failure: unknown) =>
        current && setError(failure instanceof Error ? failure.message : String(failure)),
    );
    return () => {
      current = false;
    };
  }, [message.id, hasHtml]);
  if (!hasHtml) return <pre class="message-text">{message.text_body}</pre>;
  if (error) return <p role="alert" class="banner error">{error}</p>;
  if (html === null) return <p class="muted" aria-busy="true">Loading the message…</p>;
  const source = remoteImages && message.html_body ? withRemoteImages(message.html_body) : html;
  return (
    <div class="message-html">
      {hasRemoteImages(message.html_body) && !remoteImages ? (
        <p class="remote-images">
          <span class="muted">Remote images are blocked. Loading them tells the sender you read the mail.</span>{" "}
          <button type="button" onClick={() => setRemoteImages(true)}>
            Show remote images
          </button>
        </p>
      ) : null}
      <iframe
        sandbox=""
        srcdoc={source}
        title={`Full message from ${addressText(message.from)}`}
        referrerpolicy="no-referrer"
      />
    </div>
  );
}

interface Props {
  message: Message;
  /** Whether the reader may try to cancel a mail of ours that is not sent yet. */
  canCancel: boolean;
  onChanged: () => void;
}

export function ConversationMessage({ message, canCancel, onChanged }: Props) {
  const [full, setFull] = useState(false);
  const direction = directionOf(message);
  // The parser's cut when it made one; older mail and our own replies are cut here.
  const text = message.reply_text || newText(message.text_body);
  return (
    <article class={`message message-${direction}`} aria-label={`Message from ${addressText(message.from)}`}>
      <header class="message-head">
        <div class="message-from">
          <strong>{message.from?.name || message.from?.email || "(no sender)"}</strong>
          {message.from?.name ? <span class="muted"> &lt;{message.from.email}&gt;</span> : null}{" "}
          <Badge tone={direction === "customer" ? "" : direction === "agent" ? "accent" : "warn"}>
            {DIRECTION_LABEL[direction]}
          </Badge>
        </div>
        <time class="muted" dateTime={message.created_at}>
          {formatDateTime(message.created_at)}
        </time>
      </header>
      <dl class="message-meta">
        <dt>To</dt>
        <dd>{addressList(message.to ?? []) || "–"}</dd>
        {message.cc?.length ? (
          <>
            <dt>Cc</dt>
            <dd>{addressList(message.cc ?? [])}</dd>
          </>
        ) : null}
        <dt>Why here</dt>
        <dd>{matchReason(message.match_rule)}</dd>
      </dl>
      <ConversationDelivery message={message} canCancel={canCancel} onCancelled={onChanged} />
      {full ? (
        <FullMessage message={message} />
      ) : text ? (
        <pre class="message-text">{text}</pre>
      ) : (
        <p class="muted">This mail has no text version; show the full message to read it.</p>
      )}
      <p class="message-actions">
        <button type="button" class="link" aria-expanded={full} onClick={() => setFull(!full)}>
          {full ? "Show new text only" : "Show full message"}
        </button>
      </p>
      <ConversationAttachments attachments={message.attachments ?? []} />
    </article>
  );
}
