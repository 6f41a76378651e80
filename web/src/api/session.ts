// The login session: tokens in localStorage (so a reload or a second tab stays logged in),
// the caller's identity, and listeners that re-render when either changes.
import type { components } from "./schema";

export type Me = components["schemas"]["Me"];
export type AccountAccess = components["schemas"]["AccountAccess"];
type Tokens = components["schemas"]["SessionTokens"];

const STORAGE_KEY = "postdesk.session";

interface Stored {
  accessToken: string;
  refreshToken: string;
}

let stored: Stored | null = readStored();
let me: Me | null = null;
const listeners = new Set<() => void>();

function readStored(): Stored | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Stored) : null;
  } catch {
    return null;
  }
}

function changed(): void {
  for (const listener of listeners) listener();
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function accessToken(): string | null {
  return stored?.accessToken ?? null;
}

export function refreshToken(): string | null {
  return stored?.refreshToken ?? null;
}

export function storeTokens(tokens: Tokens): void {
  stored = { accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
  localStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
  changed();
}

export function currentUser(): Me | null {
  return me;
}

export function setCurrentUser(user: Me | null): void {
  me = user;
  changed();
}

export function clearSession(): void {
  stored = null;
  me = null;
  localStorage.removeItem(STORAGE_KEY);
  changed();
}

// Other tabs logging in or out.
window.addEventListener("storage", (event) => {
  if (event.key !== STORAGE_KEY) return;
  stored = readStored();
  if (!stored) me = null;
  changed();
});

export const isAdmin = (user: Me | null): boolean => user?.role === "admin";

/** The accounts the user may send from (the From list of reply and compose). */
export const sendableAccounts = (user: Me | null): AccountAccess[] =>
  (user?.accounts ?? []).filter((account) => account.can_send);

/** The user's access to one account, or undefined when they have none. */
export const accessTo = (user: Me | null, accountId: string): AccountAccess | undefined =>
  user?.accounts?.find((account) => account.account_id === accountId);
