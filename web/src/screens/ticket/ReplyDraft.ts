// Unsent text kept in sessionStorage, so a reload (or a look at another ticket) does not lose
// it; it stays in this tab only and goes when the tab closes.
import { useEffect, useState } from "preact/hooks";

const PREFIX = "postdesk.draft.";

function read<T>(key: string): T | null {
  try {
    const raw = sessionStorage.getItem(PREFIX + key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

export function clearDraft(key: string): void {
  sessionStorage.removeItem(PREFIX + key);
}

/** State that is saved under `key` on every change; `isEmpty` drafts are removed instead. */
export function useStoredDraft<T extends object>(
  key: string,
  empty: T,
  isEmpty: (draft: T) => boolean,
): [T, (change: Partial<T>) => void, (next?: T) => void] {
  const [draft, setDraft] = useState<T>(() => ({ ...empty, ...read<Partial<T>>(key) }));

  // The caller remounts (a `key`) for another draft: `key` is read once.
  useEffect(() => {
    if (isEmpty(draft)) clearDraft(key);
    else sessionStorage.setItem(PREFIX + key, JSON.stringify(draft));
  }, [draft]);

  const update = (change: Partial<T>) => setDraft((current) => ({ ...current, ...change }));
  const reset = (next: T = empty) => setDraft(next);
  return [draft, update, reset];
}

/** A fresh Idempotency-Key (crypto.randomUUID needs a secure context; this does not). */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
