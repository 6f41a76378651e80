// The ticket screen's keys: "r" goes to the reply box; "u" or Escape back to the inbox.
// Ignored while the reader types in a field (or uses a key with a modifier).
import { useEffect } from "preact/hooks";
import { navigate } from "../../router";

function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return (
    target.isContentEditable ||
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  );
}

function focusReply(): boolean {
  const field = document.querySelector<HTMLTextAreaElement>(".ticket-reply textarea");
  if (!field) return false;
  field.focus();
  field.scrollIntoView({ block: "center" });
  return true;
}

export function useTicketKeys(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      if (e.key === "r" && focusReply()) e.preventDefault();
      else if (e.key === "u" || e.key === "Escape") {
        e.preventDefault();
        navigate("/inbox");
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
}
