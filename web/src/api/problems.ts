// What to tell the user when a call fails: the gateway answers errors as problem details.
import type { components } from "./schema";

type Problem = components["schemas"]["Problem"];

export function problemText(error: unknown, fallback = "The request failed."): string {
  if (!error || typeof error !== "object") return fallback;
  const problem = error as Partial<Problem>;
  const fields = (problem.errors ?? [])
    .map((entry) => {
      const key = typeof entry.key === "string" ? `${entry.key}: ` : "";
      return typeof entry.message === "string" ? `${key}${entry.message}` : "";
    })
    .filter(Boolean);
  const head = problem.detail || problem.title || fallback;
  return fields.length ? `${head} (${fields.join("; ")})` : head;
}
