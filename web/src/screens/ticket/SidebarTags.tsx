// The ticket's tags: remove one, add one.
import { useState } from "preact/hooks";

interface Props {
  tags: string[];
  editable: boolean;
  onEdit: (add: string[], remove: string[]) => void;
}

export function SidebarTags({ tags, editable, onEdit }: Props) {
  const [draft, setDraft] = useState("");
  const add = (e: Event) => {
    e.preventDefault();
    const tag = draft.trim();
    if (!tag) return;
    onEdit([tag], []);
    setDraft("");
  };
  return (
    <div class="sidebar-tags">
      <h3>Tags</h3>
      {tags.length ? (
        <ul class="tag-list">
          {tags.map((tag) => (
            <li key={tag} class="badge">
              {tag}
              {editable ? (
                <button
                  type="button"
                  class="link tag-remove"
                  aria-label={`Remove tag ${tag}`}
                  onClick={() => onEdit([], [tag])}
                >
                  ×
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No tags.</p>
      )}
      {editable ? (
        <form class="tag-add" onSubmit={add}>
          <input
            aria-label="New tag"
            value={draft}
            maxLength={40}
            onInput={(e) => setDraft(e.currentTarget.value)}
          />
          <button type="submit" disabled={!draft.trim()}>
            Add tag
          </button>
        </form>
      ) : null}
    </div>
  );
}
