// Words for a message: its new text (quoted history and signature cut off, so the thread
// reads as a conversation), why it joined the ticket, who wrote it.
import type { components } from "../../api/schema";

type Message = components["schemas"]["MessageView"];
type Address = components["schemas"]["EmailAddress"];

// Lines where the quoted history of a reply begins.
const HISTORY_STARTS: RegExp[] = [
  /^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|forwarded message)\s*-{2,}/i,
  /^\s*(on|am|le|el|op|il)\s.{4,200}(wrote|schrieb|a écrit|escribió|schreef|ha scritto)\s*:\s*$/i,
  /^\s*_{10,}\s*$/,
];
// An Outlook-style header block: a From: line with Sent/Date/To/Subject close under it.
const HEADER_FROM = /^\s*\*?(from|von|de|van|da)\s*:\*?\s.+$/i;
const HEADER_NEXT = /^\s*\*?(sent|date|to|subject|gesendet|datum|an|betreff|envoyé|objet|enviado|asunto)\s*:/i;

function startsHistory(lines: string[], i: number): boolean {
  const line = lines[i] ?? "";
  if (HISTORY_STARTS.some((start) => start.test(line))) return true;
  return HEADER_FROM.test(line) && lines.slice(i + 1, i + 4).some((next) => HEADER_NEXT.test(next));
}

const SIGNATURE_START = /^(-- ?|sent from my \w+.*)$/i;
const QUOTED = /^\s*>/;

/** The message's new text: up to the first quoted history or signature; the full text when
 * that would leave nothing. */
export function newText(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    if (startsHistory(lines, i) || SIGNATURE_START.test(lines[i] ?? "")) {
      end = i;
      break;
    }
  }
  let kept = lines.slice(0, end);
  // Trailing quote blocks (bottom of a top-posted reply) go; inline answers keep theirs.
  while (kept.length && (QUOTED.test(kept.at(-1) ?? "") || !(kept.at(-1) ?? "").trim())) {
    kept = kept.slice(0, -1);
  }
  const reply = kept.join("\n").trim();
  return reply || text.trim();
}

const RULE_WORDS: Record<string, string> = {
  "in-reply-to": "its In-Reply-To header names a message of this ticket",
  references: "its References header names a message of this ticket",
  "bounced-message": "it is a bounce of a message sent from this ticket",
  "reply-token": "its reply address carries this ticket's token",
  "signed-message-id": "it answers a message ID postdesk signed for this ticket",
  "subject-tag": "its subject carries this ticket's tag [#number]",
  "sender-subject": "same sender and subject as this ticket, recently",
  "new-ticket": "it matched no ticket, so it opened this one",
  agent: "written by an agent in postdesk",
};

const OUTBOUND_KINDS: Record<string, string> = {
  reply: "an agent's reply sent from postdesk",
  compose: "a new mail written in postdesk",
  auto_reply: "an automatic reply",
  "auto-reply": "an automatic reply",
};

/** Why the message joined this ticket, in plain words. */
export function matchReason(rule: string): string {
  if (!rule) return "not recorded";
  if (rule.startsWith("outbound:")) {
    const kind = rule.slice("outbound:".length);
    return OUTBOUND_KINDS[kind] ?? `sent from postdesk (${kind})`;
  }
  if (rule.startsWith("follow-up:")) {
    return `it matched a closed ticket (${matchReason(rule.slice("follow-up:".length))}) and opened this follow-up`;
  }
  if (rule.startsWith("linked:")) {
    const inner = rule.split(":")[1] ?? "";
    return `it matched another ticket (${matchReason(inner)}), but its sender is not part of that conversation, so it opened this linked ticket`;
  }
  return RULE_WORDS[rule] ?? rule;
}

export type Direction = "customer" | "agent" | "automatic";

export function directionOf(message: Message): Direction {
  if (message.direction === "inbound") return "customer";
  return /auto/.test(message.match_rule) ? "automatic" : "agent";
}

export function addressText(address: Address | null | undefined): string {
  if (!address) return "(no sender)";
  return address.name ? `${address.name} <${address.email}>` : address.email;
}

export function addressList(addresses: Address[]): string {
  return addresses.map(addressText).join(", ");
}

/** The mail with its remote images restored, on the reader's request: the parser keeps each
 * remote source as data-blocked-src, which no browser loads. Parsed inertly (DOMParser runs
 * and loads nothing); the result still goes only into the sandboxed frame. */
export function withRemoteImages(html: string): string {
  const doc = new DOMParser().parseFromString(html, "text/html");
  for (const element of Array.from(doc.querySelectorAll("[data-blocked-src]"))) {
    element.setAttribute("src", element.getAttribute("data-blocked-src") ?? "");
    element.removeAttribute("data-blocked-src");
  }
  return `<!doctype html>${doc.documentElement.outerHTML}`;
}

export function hasRemoteImages(html: string | null | undefined): boolean {
  return !!html && /data-blocked-src=/i.test(html);
}
