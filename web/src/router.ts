// Hash routing (#/inbox, #/tickets/<id>): any static file server can serve the console, with
// no rewrite rules for deep links.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** The path after '#', without the query: "/tickets/1b2c...". */
  path: string;
  /** The path's segments: ["tickets", "1b2c..."]. */
  segments: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const raw = window.location.hash.replace(/^#/, "") || "/inbox";
  const [path = "/inbox", search = ""] = raw.split("?", 2);
  return { path, segments: path.split("/").filter(Boolean), query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** A hash link: href(`/tickets/${id}`) or href("/inbox", { view: "mine" }). */
export function href(path: string, query?: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== "") params.set(key, value);
  }
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ""}`;
}

export function navigate(path: string, query?: Record<string, string | undefined>): void {
  window.location.hash = href(path, query);
}
