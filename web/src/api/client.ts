// The typed client of the gateway's API (types generated from web/openapi.json by
// `npm run gen`). Every call carries the access token; a 401 refreshes the session once and
// repeats the call; a failed refresh ends the session (the app shows the login screen).
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { accessToken, clearSession, refreshToken, storeTokens } from "./session";

let refreshing: Promise<boolean> | null = null;

async function refreshSession(): Promise<boolean> {
  const token = refreshToken();
  if (!token) return false;
  const response = await fetch("/auth/refresh", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: token }),
  });
  if (!response.ok) return false;
  storeTokens(await response.json());
  return true;
}

/** One refresh at a time, however many calls got a 401 together. */
export function refreshOnce(): Promise<boolean> {
  refreshing ??= refreshSession().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function withToken(request: Request): Request {
  const token = accessToken();
  if (token) request.headers.set("authorization", `Bearer ${token}`);
  return request;
}

async function authedFetch(request: Request): Promise<Response> {
  const again = request.clone();
  const response = await fetch(withToken(request));
  if (response.status !== 401 || !refreshToken() || request.url.endsWith("/auth/login")) {
    return response;
  }
  if (await refreshOnce()) return fetch(withToken(again));
  clearSession();
  return response;
}

export const api = createClient<paths>({ baseUrl: window.location.origin, fetch: authedFetch });

/** A fetch with the session's token for what the typed client does not cover: files. */
export function fetchWithSession(url: string, init: RequestInit = {}): Promise<Response> {
  return authedFetch(new Request(new URL(url, window.location.origin), init));
}

/** The URL of an event stream: EventSource cannot send headers, the gateway takes the token
 * as `access_token` on its stream routes only. */
export function streamUrl(path: string): string {
  const url = new URL(path, window.location.origin);
  const token = accessToken();
  if (token) url.searchParams.set("access_token", token);
  return url.toString();
}
