// Shared building blocks of the admin sections: typed schema access, running a call with its
// error and result message, confirmation, cursor paging, one-time secrets, lookups by id, and
// the wiring of a list section (rows, one open form, create/save/delete; its views are in
// listViews.tsx).
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { ErrorBanner, Notice } from "../../ui/components";
import { useLoad, type ApiResult } from "../../ui/useLoad";

export type Schema<K extends keyof components["schemas"]> = components["schemas"][K];

type CallResult<T> = ApiResult<T>;

/** Runs API calls for a form or a row: busy while it runs, the server's refusal as text. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  async function run<T>(
    call: () => Promise<CallResult<T>>,
    onDone?: (data: T | undefined) => void,
    success?: string,
  ): Promise<boolean> {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const result = await call();
      if (result.error !== undefined) {
        setError(problemText(result.error));
        return false;
      }
      if (success) setNotice(success);
      onDone?.(result.data);
      return true;
    } catch (failure) {
      setError(String(failure));
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, notice, run, setError, setNotice };
}

/** The error and the success message of an action, where the action is. */
export function ActionStatus({ action }: { action: { error: string | null; notice: string | null } }) {
  return (
    <>
      <ErrorBanner message={action.error} />
      <Notice message={action.notice} />
    </>
  );
}

export const confirmed = (question: string): boolean => window.confirm(question);

/** A secret the server shows only once (password, token, signing secret). */
export function OneTimeSecret({
  label,
  value,
  onDismiss,
}: {
  label: string;
  value: string | null | undefined;
  onDismiss: () => void;
}) {
  if (!value) return null;
  return (
    <div class="banner warn admin-secret" role="status">
      <p>
        <strong>{label}</strong> (shown only now; copy it before closing):
      </p>
      <code class="admin-secret-value">{value}</code>
      <button type="button" onClick={onDismiss}>
        Done
      </button>
    </div>
  );
}

/** Cursor paging: the cursor of the page shown and the ones before it. */
export function usePager() {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  return {
    cursor,
    page: cursors.length + 1,
    next: (nextCursor: string) => setCursors([...cursors, nextCursor]),
    previous: () => setCursors(cursors.slice(0, -1)),
    reset: () => setCursors([]),
  };
}

export function PagerControls({
  pager,
  nextCursor,
}: {
  pager: ReturnType<typeof usePager>;
  nextCursor: string | null | undefined;
}) {
  if (pager.page === 1 && !nextCursor) return null;
  return (
    <nav class="admin-pager" aria-label="Pages">
      <button type="button" disabled={pager.page === 1} onClick={pager.previous}>
        Previous page
      </button>
      <span>Page {pager.page}</span>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && pager.next(nextCursor)}>
        Next page
      </button>
    </nav>
  );
}

/** A table that scrolls sideways on narrow screens, or the empty state. */
export function AdminTable({
  caption,
  head,
  empty,
  count,
  children,
}: {
  caption: string;
  head: string[];
  empty: string;
  count: number;
  children: ComponentChildren;
}) {
  if (count === 0) return <p class="muted admin-empty">{empty}</p>;
  return (
    <div class="admin-table-wrap">
      <table class="admin-table">
        <caption class="admin-sr-only">{caption}</caption>
        <thead>
          <tr>
            {head.map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** What a list loads: one page of rows (`next_cursor` where the list pages). */
export interface RowsPage<Row> {
  items: Row[];
  next_cursor?: string | null;
}

/** How a list section deletes a row, and what else a change touches. */
export interface CrudOptions<Row> {
  /** The API call that deletes the row. */
  remove: (row: Row) => Promise<CallResult<unknown>>;
  /** The question the user confirms before the delete. */
  confirm: (row: Row) => string;
  /** The notice once the row is deleted. */
  removed: string;
  /** After a delete succeeded, before the list reloads (e.g. close the row's detail). */
  onRemoved?: (row: Row) => void;
  /** After any create, save or delete succeeded, once the list reloads (e.g. the directory). */
  onChange?: () => void;
}

/** A list section's wiring: the loaded rows, at most one open form (the new one or a row's),
 * and one action for create, save and delete; a success closes the form and reloads the list. */
export function useCrudList<Row extends { id: string }>(
  load: () => Promise<ApiResult<RowsPage<Row>>>,
  options: CrudOptions<Row>,
) {
  const list = useLoad(load, []);
  const action = useAction();
  const [form, setForm] = useState<"new" | string | null>(null);
  const rows = list.data?.items ?? [];
  const done = () => {
    setForm(null);
    list.reload();
    options.onChange?.();
  };

  /** Creates or saves; `then` sees the server's answer before the form closes. */
  function submit<T>(call: () => Promise<CallResult<T>>, success: string, then?: (data: T | undefined) => void) {
    void action.run(
      call,
      (data) => {
        then?.(data);
        done();
      },
      success,
    );
  }

  function remove(row: Row) {
    if (!confirmed(options.confirm(row))) return;
    void action.run(
      () => options.remove(row),
      () => {
        options.onRemoved?.(row);
        done();
      },
      options.removed,
    );
  }

  return {
    list,
    rows,
    action,
    creating: form === "new",
    editing: rows.find((row) => row.id === form),
    openNew: () => setForm("new"),
    edit: (row: Row) => setForm(row.id),
    close: () => setForm(null),
    submit,
    remove,
  };
}

export type CrudList<Row extends { id: string }> = ReturnType<typeof useCrudList<Row>>;

export function Check({
  label,
  checked,
  disabled = false,
  onChange,
}: {
  label: string;
  checked: boolean;
  disabled?: boolean;
  onChange: (value: boolean) => void;
}) {
  return (
    <label class="check">
      <input
        type="checkbox"
        checked={checked}
        disabled={disabled}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
      {label}
    </label>
  );
}

/** A form in a card, with its heading and submit/cancel buttons. */
export function FormCard({
  title,
  submit,
  busy,
  onSubmit,
  onCancel,
  children,
}: {
  title: string;
  submit: string;
  busy: boolean;
  onSubmit: () => void;
  onCancel?: () => void;
  children: ComponentChildren;
}) {
  return (
    <form
      class="card admin-form"
      aria-label={title}
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      <h2>{title}</h2>
      <div class="admin-form-grid">{children}</div>
      <div class="admin-form-actions">
        <button type="submit" class="primary" disabled={busy}>
          {submit}
        </button>
        {onCancel ? (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

/** "" for none, for optional id selects. */
export const orNull = (value: string): string | null => (value === "" ? null : value);

/** A whole number from an input, or null when empty. */
export function intOrNull(value: string): number | null {
  const trimmed = value.trim();
  if (trimmed === "") return null;
  const parsed = Number(trimmed);
  return Number.isFinite(parsed) ? Math.trunc(parsed) : null;
}

/** The tenant's users, accounts and departments, to name ids and fill selects. */
export function useDirectory() {
  const users = useLoad(() => api.GET("/admin/users", { params: { query: { limit: 200 } } }), []);
  const accounts = useLoad(() => api.GET("/admin/accounts"), []);
  const departments = useLoad(() => api.GET("/admin/departments"), []);
  const userList = users.data?.items ?? [];
  const accountList = accounts.data?.items ?? [];
  const departmentList = departments.data?.items ?? [];
  return {
    users: userList,
    accounts: accountList,
    departments: departmentList,
    error: users.error ?? accounts.error ?? departments.error,
    userName: (id: string | null | undefined) =>
      id ? (userList.find((u) => u.id === id)?.full_name ?? id) : "—",
    accountName: (id: string | null | undefined) =>
      id ? (accountList.find((a) => a.id === id)?.address ?? id) : "—",
    departmentName: (id: string | null | undefined) =>
      id ? (departmentList.find((d) => d.id === id)?.name ?? id) : "—",
    reload: () => {
      users.reload();
      accounts.reload();
      departments.reload();
    },
  };
}

export type Directory = ReturnType<typeof useDirectory>;

export function DirectoryError({ directory }: { directory: Directory }) {
  return <ErrorBanner message={directory.error} />;
}

/** Working hours as JSON text ({"mon": [["09:00", "17:30"]], ...}), parsed on submit. */
export function parseWorkingHours(text: string): { [key: string]: unknown } | string {
  if (text.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as { [key: string]: unknown };
  } catch {
    // fall through to the message below
  }
  return 'Working hours must be a JSON object such as {"mon": [["09:00", "17:30"]]}.';
}

export const workingHoursText = (hours: object | null | undefined): string =>
  hours && Object.keys(hours).length ? JSON.stringify(hours) : "";
