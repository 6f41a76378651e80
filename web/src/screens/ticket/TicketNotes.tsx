// Internal notes: the list (oldest first) and, for whoever may write, a new note with
// @mentions.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { ErrorBanner } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { nameOf, type People } from "./TicketPeople";
import { TicketMentionInput } from "./TicketMentionInput";

type Note = components["schemas"]["NoteView"];

interface Props {
  ticketId: string;
  people: People;
  canWrite: boolean;
  /** Bumped when the ticket changed (a colleague's note arrives by the event stream). */
  version: number;
}

export function TicketNotes({ ticketId, people, canWrite, version }: Props) {
  const [notes, setNotes] = useState<Note[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [draft, setDraft] = useState("");
  const [sendError, setSendError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState(0);

  useEffect(() => {
    let current = true;
    void api
      .GET("/tickets/{ticket_id}/notes", { params: { path: { ticket_id: ticketId } } })
      .then(({ data, error }) => {
        if (!current) return;
        if (data) {
          setNotes(data.items);
          setLoadError(null);
        } else setLoadError(problemText(error, "The notes could not be loaded."));
      });
    return () => {
      current = false;
    };
  }, [ticketId, version, added]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!draft.trim()) return;
    setBusy(true);
    setSendError(null);
    const { error } = await api.POST("/tickets/{ticket_id}/notes", {
      params: { path: { ticket_id: ticketId } },
      body: { body: draft },
    });
    setBusy(false);
    if (error !== undefined) {
      setSendError(problemText(error, "The note was not saved."));
      return;
    }
    setDraft("");
    setAdded((n) => n + 1);
  };

  const mentionable = people.list.filter((person) => person.mentionable);
  return (
    <section class="ticket-notes card" aria-labelledby="notes-title">
      <h2 id="notes-title">Internal notes</h2>
      <ErrorBanner message={loadError} />
      {notes.length ? (
        <ol class="note-list">
          {notes.map((note) => (
            <li key={note.id} class="note">
              <div class="note-head">
                <strong>{nameOf(people, note.author_id)}</strong>{" "}
                <time class="muted" dateTime={note.created_at}>
                  {formatDateTime(note.created_at)}
                </time>
                {note.mentioned_user_ids?.length ? (
                  <span class="muted">
                    {" "}
                    · mentions {note.mentioned_user_ids.map((id) => nameOf(people, id)).join(", ")}
                  </span>
                ) : null}
              </div>
              <p class="note-body">{note.body}</p>
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted">No notes yet.</p>
      )}
      {canWrite ? (
        <form class="note-form" onSubmit={submit}>
          <TicketMentionInput value={draft} onInput={setDraft} candidates={mentionable} disabled={busy} />
          <ErrorBanner message={sendError} />
          <button type="submit" class="primary" disabled={busy || !draft.trim()}>
            Add note
          </button>
        </form>
      ) : null}
    </section>
  );
}
