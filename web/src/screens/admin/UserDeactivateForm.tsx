// Deactivating a user: the confirmation, with what becomes of their open tickets.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { UserSelect } from "./IdSelect";
import { ActionStatus, FormCard, useAction, type Directory, type Schema } from "./kit";

type User = Schema<"UserView">;
type Choice = Schema<"UserDeactivate">["open_tickets"];

const CHOICES: { value: Choice; label: string }[] = [
  { value: "keep", label: "Keep them assigned to this user" },
  { value: "unassign", label: "Leave them unassigned (they show in their mailbox's unassigned view)" },
  { value: "reassign", label: "Reassign them all to another user" },
];

/** What the users list says once the user is deactivated. */
export function deactivatedMessage(done: Schema<"UserDeactivated">, newAssignee: string): string {
  const plural = (n: number) => (n === 1 ? "1 open ticket" : `${n} open tickets`);
  const who = `${done.full_name} deactivated`;
  if (done.tickets_reassigned) return `${who}; ${plural(done.tickets_reassigned)} reassigned to ${newAssignee}.`;
  if (done.tickets_unassigned) return `${who}; ${plural(done.tickets_unassigned)} left unassigned.`;
  return `${who}; no open ticket changed hands.`;
}

export function UserDeactivateForm({
  user,
  directory,
  onDeactivated,
  onCancel,
}: {
  user: User;
  directory: Directory;
  onDeactivated: (message: string) => void;
  onCancel: () => void;
}) {
  const action = useAction();
  const [choice, setChoice] = useState<Choice>("keep");
  const [targetId, setTargetId] = useState("");
  const candidates = directory.users.filter((other) => other.is_active && other.id !== user.id);

  function submit() {
    const body =
      choice === "reassign" ? { open_tickets: choice, reassign_to: targetId } : { open_tickets: choice };
    void action.run(
      () => api.POST("/admin/users/{user_id}/deactivate", { params: { path: { user_id: user.id } }, body }),
      (done) => done && onDeactivated(deactivatedMessage(done, directory.userName(targetId))),
    );
  }

  return (
    <>
      <ActionStatus action={action} />
      <FormCard
        title={`Deactivate ${user.full_name}`}
        submit="Deactivate user"
        busy={action.busy}
        onSubmit={submit}
        onCancel={onCancel}
      >
        <p class="muted">They are locked out at once and their sessions end.</p>
        <fieldset>
          <legend>Their open tickets</legend>
          {CHOICES.map((option) => (
            <label key={option.value} class="check">
              <input
                type="radio"
                name="open-tickets"
                value={option.value}
                checked={choice === option.value}
                onChange={() => setChoice(option.value)}
              />
              {option.label}
            </label>
          ))}
        </fieldset>
        {choice === "reassign" ? (
          <UserSelect
            label="Reassign to"
            hint="Active users; they need an assignment (not viewer) on each ticket's mailbox"
            none="Choose a user…"
            options={candidates}
            value={targetId}
            required
            onChange={setTargetId}
          />
        ) : null}
      </FormCard>
    </>
  );
}
