// The note's textarea with @mention completion: "@" and letters offer the users who can see
// the ticket; up/down choose, Enter or Tab insert, Escape closes.
import { useRef, useState } from "preact/hooks";
import type { Person } from "./TicketPeople";

const MAX_OFFERED = 8;
// "@" at the start or after a space or bracket, then the handle typed so far, up to the caret.
const TYPING_MENTION = /(?:^|[\s([{])@([\w.%+-]*)$/;

interface Props {
  value: string;
  onInput: (value: string) => void;
  candidates: Person[];
  disabled?: boolean;
}

function matching(candidates: Person[], query: string): Person[] {
  const q = query.toLowerCase();
  return candidates
    .filter((p) => p.email && (p.email.toLowerCase().startsWith(q) || p.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q))))
    .slice(0, MAX_OFFERED);
}

export function TicketMentionInput({ value, onInput, candidates, disabled }: Props) {
  const area = useRef<HTMLTextAreaElement>(null);
  const [query, setQuery] = useState<string | null>(null);
  const [active, setActive] = useState(0);
  const offered = query === null ? [] : matching(candidates, query);
  const open = offered.length > 0;

  const readQuery = (element: HTMLTextAreaElement) => {
    const before = element.value.slice(0, element.selectionStart ?? element.value.length);
    const typed = TYPING_MENTION.exec(before)?.[1];
    setQuery(typed ?? null);
    setActive(0);
  };

  const insert = (person: Person) => {
    const element = area.current;
    if (!element || query === null) return;
    const caret = element.selectionStart ?? value.length;
    const start = caret - query.length;
    // The whole login: a local part may be shared with someone outside this list.
    const handle = `${person.email} `;
    const next = value.slice(0, start) + handle + value.slice(caret);
    onInput(next);
    setQuery(null);
    requestAnimationFrame(() => {
      element.focus();
      element.setSelectionRange(start + handle.length, start + handle.length);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (!open) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const step = e.key === "ArrowDown" ? 1 : -1;
      setActive((active + step + offered.length) % offered.length);
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      const chosen = offered[active];
      if (chosen) insert(chosen);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      setQuery(null);
    }
  };

  return (
    <div class="mention-input">
      <label class="field">
        <span class="field-label">Internal note</span>
        <textarea
          ref={area}
          rows={3}
          value={value}
          disabled={disabled}
          maxLength={20000}
          aria-autocomplete="list"
          aria-controls={open ? "mention-options" : undefined}
          aria-activedescendant={open ? `mention-option-${active}` : undefined}
          onInput={(e) => {
            onInput(e.currentTarget.value);
            readQuery(e.currentTarget);
          }}
          onKeyDown={onKeyDown}
          onClick={(e) => readQuery(e.currentTarget)}
          onBlur={() => window.setTimeout(() => setQuery(null), 150)}
        />
        <span class="field-hint">Only your colleagues see notes. Type @ to mention someone.</span>
      </label>
      {open ? (
        <ul id="mention-options" class="mention-options" role="listbox" aria-label="People to mention">
          {offered.map((person, index) => (
            <li
              key={person.id}
              id={`mention-option-${index}`}
              role="option"
              aria-selected={index === active}
              onMouseDown={(e) => {
                e.preventDefault();
                insert(person);
              }}
            >
              {person.name} <span class="muted">{person.email}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
