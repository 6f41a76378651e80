// A message's attachments: always downloaded (blob + <a download>), never shown inline.
import { useState } from "preact/hooks";
import { fetchWithSession } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { formatBytes } from "../../ui/format";

type Attachment = components["schemas"]["AttachmentInfo"];

async function download(attachment: Attachment): Promise<void> {
  const response = await fetchWithSession(`/attachments/${attachment.id}`);
  if (!response.ok) {
    const problem: unknown = await response.json().catch(() => null);
    throw new Error(problemText(problem, `The download failed (${response.status}).`));
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = attachment.filename || "attachment";
  document.body.append(link);
  link.click();
  link.remove();
  // Give the browser time to start the download before the URL goes.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function AttachmentRow({ attachment }: { attachment: Attachment }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const name = attachment.filename || "(no name)";
  const onClick = () => {
    setBusy(true);
    setError(null);
    download(attachment)
      .catch((failure: unknown) =>
        setError(failure instanceof Error ? failure.message : String(failure)),
      )
      .finally(() => setBusy(false));
  };
  return (
    <li>
      <button type="button" class="link" onClick={onClick} disabled={busy} aria-label={`Download ${name}`}>
        {name}
      </button>{" "}
      <span class="muted">
        {formatBytes(attachment.size)}
        {attachment.inline ? " · embedded" : ""}
      </span>
      {error ? (
        <span class="attachment-error" role="alert">
          {" "}
          {error}
        </span>
      ) : null}
    </li>
  );
}

export function ConversationAttachments({ attachments }: { attachments: Attachment[] }) {
  if (!attachments.length) return null;
  return (
    <div class="message-attachments">
      <h3>Attachments ({attachments.length})</h3>
      <ul>
        {attachments.map((attachment) => (
          <AttachmentRow key={attachment.id} attachment={attachment} />
        ))}
      </ul>
    </div>
  );
}
