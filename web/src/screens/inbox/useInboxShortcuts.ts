// The inbox's keyboard shortcuts. Keys typed into a field, or with a modifier, are the
// field's or the browser's, never a shortcut.
import { useEffect, useRef } from "preact/hooks";

export interface ShortcutActions {
  next: () => void;
  previous: () => void;
  open: () => void;
  reply: () => void;
  assignToMe: () => void;
  resolve: () => void;
  help: () => void;
}

export const SHORTCUTS: { keys: string[]; what: string }[] = [
  { keys: ["j", "↓"], what: "Select the next ticket" },
  { keys: ["k", "↑"], what: "Select the previous ticket" },
  { keys: ["Enter", "o"], what: "Open the selected ticket" },
  { keys: ["r"], what: "Open it to reply" },
  { keys: ["a"], what: "Assign it to me" },
  { keys: ["e"], what: "Resolve it" },
  { keys: ["?"], what: "Show these shortcuts" },
];

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return (
    target.isContentEditable ||
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  );
}

function actionFor(event: KeyboardEvent, actions: ShortcutActions): (() => void) | undefined {
  switch (event.key) {
    case "j":
    case "ArrowDown":
      return actions.next;
    case "k":
    case "ArrowUp":
      return actions.previous;
    case "o":
      return actions.open;
    case "Enter":
      // Enter on a focused link or button is theirs (it follows or presses them).
      return event.target instanceof HTMLAnchorElement || event.target instanceof HTMLButtonElement
        ? undefined
        : actions.open;
    case "r":
      return actions.reply;
    case "a":
      return actions.assignToMe;
    case "e":
      return actions.resolve;
    case "?":
      return actions.help;
    default:
      return undefined;
  }
}

export function useInboxShortcuts(actions: ShortcutActions, enabled: boolean): void {
  // The handler reads the latest actions without re-binding on every render.
  const latest = useRef(actions);
  latest.current = actions;
  useEffect(() => {
    if (!enabled) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
      if (isTyping(event.target)) return;
      const action = actionFor(event, latest.current);
      if (!action) return;
      event.preventDefault();
      action();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [enabled]);
}
