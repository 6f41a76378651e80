// Files for a reply or a new mail: each is uploaded on its own as soon as it is picked
// (POST /uploads), and the mail names the finished ones by upload_id.
import { useEffect, useState } from "preact/hooks";
import { fetchWithSession } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { formatBytes } from "../../ui/format";

type UploadResult = components["schemas"]["UploadResult"];

/** An uploaded file, as kept in a draft (upload ids stay valid for 24 hours). */
export interface SavedAttachment {
  uploadId: string;
  filename: string;
  size: number;
}

interface Item {
  key: string;
  filename: string;
  size: number;
  state: "uploading" | "done" | "failed";
  uploadId?: string;
  error?: string;
}

export const MAX_ATTACHMENTS = 20;

let counter = 0;

async function upload(file: File): Promise<UploadResult> {
  const form = new FormData();
  form.append("file", file, file.name);
  let response: Response;
  try {
    response = await fetchWithSession("/uploads", { method: "POST", body: form });
  } catch {
    throw new Error("The upload failed: the server could not be reached.");
  }
  const body: unknown = await response.json().catch(() => null);
  if (response.ok) return body as UploadResult;
  if (response.status === 413) {
    // The size limit itself says more than the HTTP reason phrase, when the server gives it.
    const detail = problemText(body, "");
    const why = detail && !/^request entity too large$/i.test(detail) ? detail : "the server refused it";
    throw new Error(`Too large to attach (${formatBytes(file.size)}): ${why}.`);
  }
  throw new Error(problemText(body, `The upload failed (HTTP ${response.status}).`));
}

export interface Attachments {
  items: Item[];
  uploading: boolean;
  /** The upload_ids to send. */
  uploadIds: string[];
  add: (files: FileList | null) => void;
  remove: (key: string) => void;
  reset: (saved?: SavedAttachment[]) => void;
}

const fromSaved = (saved: SavedAttachment[]): Item[] =>
  saved.map((file) => ({ key: `saved-${counter++}`, ...file, state: "done" as const }));

/** `onSaved` gets the finished uploads whenever they change, to keep them in the draft. */
export function useAttachments(
  saved: SavedAttachment[],
  onSaved: (files: SavedAttachment[]) => void,
): Attachments {
  const [items, setItems] = useState<Item[]>(() => fromSaved(saved));

  const change = (update: (current: Item[]) => Item[]) => setItems(update);

  useEffect(() => {
    onSaved(
      items
        .filter((item) => item.state === "done" && item.uploadId)
        .map((item) => ({ uploadId: item.uploadId!, filename: item.filename, size: item.size })),
    );
  }, [items]);

  const add = (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) {
      const key = `file-${counter++}`;
      change((current) => [
        ...current,
        { key, filename: file.name, size: file.size, state: "uploading" },
      ]);
      upload(file).then(
        (result) =>
          change((current) =>
            current.map((item) =>
              item.key === key
                ? { ...item, state: "done", uploadId: result.upload_id, filename: result.filename }
                : item,
            ),
          ),
        (error: unknown) =>
          change((current) =>
            current.map((item) =>
              item.key === key
                ? { ...item, state: "failed", error: error instanceof Error ? error.message : "The upload failed." }
                : item,
            ),
          ),
      );
    }
  };

  return {
    items,
    uploading: items.some((item) => item.state === "uploading"),
    uploadIds: items.filter((item) => item.state === "done").map((item) => item.uploadId!),
    add,
    remove: (key) => change((current) => current.filter((item) => item.key !== key)),
    reset: (next = []) => change(() => fromSaved(next)),
  };
}

export function AttachmentsField({ attachments }: { attachments: Attachments }) {
  const { items } = attachments;
  const full = items.length >= MAX_ATTACHMENTS;
  return (
    <div class="attachments">
      <label class="attach-button">
        <span>Attach files</span>
        <input
          type="file"
          multiple
          disabled={full}
          onChange={(event) => {
            attachments.add(event.currentTarget.files);
            event.currentTarget.value = "";
          }}
        />
      </label>
      {full ? <span class="field-hint">At most {MAX_ATTACHMENTS} files per mail.</span> : null}
      {items.length ? (
        <ul class="attachment-list" aria-label="Attachments">
          {items.map((item) => (
            <li key={item.key} class={`attachment ${item.state}`}>
              <span class="attachment-name">{item.filename}</span>
              <span class="muted">{formatBytes(item.size)}</span>
              {item.state === "uploading" ? (
                <progress aria-label={`Uploading ${item.filename}`} />
              ) : null}
              {item.state === "done" ? <span class="muted">Uploaded</span> : null}
              {item.state === "failed" ? (
                <span class="attachment-error" role="alert">
                  {item.error}
                </span>
              ) : null}
              <button
                type="button"
                class="link"
                aria-label={`Remove ${item.filename}`}
                onClick={() => attachments.remove(item.key)}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
