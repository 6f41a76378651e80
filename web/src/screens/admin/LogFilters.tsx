// A filtered log table: the filter form (text fields and a time range, applied on submit), and
// the filters applied with their paging.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { Field } from "../../ui/components";
import { useLoad, type ApiResult } from "../../ui/useLoad";
import { usePager, type RowsPage } from "./kit";

export type Filters = Record<string, string>;

/** datetime-local ("2026-11-26T14:00") to the ISO time the API takes, or null. */
export const isoOrNull = (local: string | undefined): string | null =>
  local ? new Date(local).toISOString() : null;

export const textOrNull = (value: string | undefined): string | null => (value?.trim() ? value.trim() : null);

export function LogFilters({
  label,
  draft,
  setDraft,
  onApply,
  onClear,
  children,
}: {
  label: string;
  draft: Filters;
  setDraft: (draft: Filters) => void;
  onApply: () => void;
  onClear: () => void;
  children: ComponentChildren;
}) {
  return (
    <form
      class="admin-filters"
      aria-label={label}
      onSubmit={(e) => {
        e.preventDefault();
        onApply();
      }}
    >
      <Field label="Since">
        <input
          type="datetime-local"
          value={draft.since ?? ""}
          onInput={(e) => setDraft({ ...draft, since: e.currentTarget.value })}
        />
      </Field>
      <Field label="Until">
        <input
          type="datetime-local"
          value={draft.until ?? ""}
          onInput={(e) => setDraft({ ...draft, until: e.currentTarget.value })}
        />
      </Field>
      {children}
      <div class="admin-filter-actions">
        <button type="submit" class="primary">
          Apply filters
        </button>
        <button type="button" onClick={onClear}>
          Clear filters
        </button>
      </div>
    </form>
  );
}

/** A text filter of the draft. */
export function TextFilter({
  label,
  name,
  draft,
  setDraft,
}: {
  label: string;
  name: string;
  draft: Filters;
  setDraft: (draft: Filters) => void;
}) {
  return (
    <Field label={label}>
      <input value={draft[name] ?? ""} onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} />
    </Field>
  );
}

/** A log's filters: the draft being edited, the filters applied, and the page of rows they load
 * (applying or clearing goes back to the first page). */
export function useFilteredLog<Row>(load: (filters: Filters, cursor: string | null) => Promise<ApiResult<RowsPage<Row>>>) {
  const pager = usePager();
  const [draft, setDraft] = useState<Filters>({});
  const [filters, setFilters] = useState<Filters>({});
  const list = useLoad(() => load(filters, pager.cursor ?? null), [filters, pager.cursor]);
  const apply = (next: Filters) => {
    setFilters(next);
    pager.reset();
  };
  return {
    pager,
    list,
    filters,
    draft,
    setDraft,
    /** The props of LogFilters. */
    form: {
      draft,
      setDraft,
      onApply: () => apply(draft),
      onClear: () => {
        setDraft({});
        apply({});
      },
    },
  };
}
