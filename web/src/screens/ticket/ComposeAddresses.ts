// Address lists typed by hand: "ana@example.com, Ben Okafor <ben@example.com>".
import type { components } from "../../api/schema";

export type Recipient = components["schemas"]["Recipient"];

const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
const NAMED = /^(.*?)\s*<([^<>]+)>$/;

export interface ParsedRecipients {
  recipients: Recipient[];
  /** The parts that are not an address, as typed. */
  invalid: string[];
}

export function parseRecipients(input: string): ParsedRecipients {
  const recipients: Recipient[] = [];
  const invalid: string[] = [];
  for (const part of input.split(/[,;\n]/)) {
    const item = part.trim();
    if (!item) continue;
    const named = NAMED.exec(item);
    const name = named ? named[1]!.replace(/^"|"$/g, "").trim() : "";
    const email = (named ? named[2]! : item).trim();
    if (ADDRESS.test(email) && email.length <= 320 && name.length <= 200) {
      recipients.push({ name, email });
    } else {
      invalid.push(item);
    }
  }
  return { recipients, invalid };
}

/** What is wrong with an address field, or null when it is fine. */
export function recipientsProblem(parsed: ParsedRecipients, required: boolean): string | null {
  if (parsed.invalid.length) return `Not an email address: ${parsed.invalid.join(", ")}`;
  if (required && !parsed.recipients.length) return "Enter at least one address.";
  if (parsed.recipients.length > 50) return "At most 50 addresses.";
  return null;
}

export function displayAddress(name: string | null | undefined, email: string): string {
  return name ? `${name} <${email}>` : email;
}
