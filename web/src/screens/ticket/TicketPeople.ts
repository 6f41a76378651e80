// Who the ticket screen can name: note authors, the assignee, history actors, @mention
// candidates. GET /tickets/{id}/staff lists, to whoever sees the ticket, the active users on
// its mailbox and the tenant's admins, with the server's own assignee and @mention judgments.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";

type StaffMember = components["schemas"]["StaffMember"];

export interface Person {
  id: string;
  name: string;
  email: string;
  /** PATCH /tickets/{id} accepts them as assignee. */
  assignable: boolean;
  /** A note's @mention of their login names them. */
  mentionable: boolean;
}

export interface People {
  list: Person[];
  /** "ready" once the staff list came; an id missing from it then is a former colleague. */
  status: "loading" | "ready" | "failed";
  error: string | null;
}

function person(member: StaffMember): Person {
  return {
    id: member.id,
    name: member.full_name || member.email,
    email: member.email,
    assignable: member.can_be_assignee,
    mentionable: member.mentionable,
  };
}

const LOADING: People = { list: [], status: "loading", error: null };

export function usePeople(ticketId: string, accountId: string): People {
  const [people, setPeople] = useState<People>(LOADING);
  useEffect(() => {
    let current = true;
    setPeople(LOADING);
    void api
      .GET("/tickets/{ticket_id}/staff", { params: { path: { ticket_id: ticketId } } })
      .then(({ data, error }) => {
        if (!current) return;
        if (data) setPeople({ list: data.items.map(person), status: "ready", error: null });
        else {
          const why = problemText(error, "The names of this mailbox's staff could not be loaded.");
          setPeople({ list: [], status: "failed", error: why });
        }
      });
    return () => {
      current = false;
    };
  }, [ticketId, accountId]);
  return people;
}

export function nameOf(people: People, userId: string | null | undefined): string {
  if (!userId) return "";
  const found = people.list.find((p) => p.id === userId);
  if (found) return found.name;
  return people.status === "ready" ? "a former colleague" : "…";
}

/** Whether `userId` may take the ticket, as far as the staff list tells. */
export function isAssignable(people: People, userId: string): boolean {
  return people.list.some((p) => p.id === userId && p.assignable);
}
