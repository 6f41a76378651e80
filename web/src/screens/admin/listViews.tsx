// The views a list section is built of: its status, its table (loading, paged), a row's
// Edit/Delete buttons, a subsection's heading, a row's detail card and the "new" button.
import type { ComponentChildren } from "preact";
import { ErrorBanner, Loading } from "../../ui/components";
import type { Loaded } from "../../ui/useLoad";
import { ActionStatus, AdminTable, PagerControls, type CrudList, type RowsPage, type usePager } from "./kit";

/** "Loading…" until the list's first answer, then its table of rows (or the empty state). */
export function LoadedTable<Row>({
  list,
  loading,
  caption,
  head,
  empty,
  row,
}: {
  list: { data: RowsPage<Row> | undefined; loading: boolean };
  loading: string;
  caption: string;
  head: string[];
  empty: string;
  row: (row: Row) => ComponentChildren;
}) {
  if (list.loading && !list.data) return <Loading what={loading} />;
  if (!list.data) return null;
  const rows = list.data.items;
  return (
    <AdminTable caption={caption} head={head} empty={empty} count={rows.length}>
      {rows.map((item) => row(item))}
    </AdminTable>
  );
}

/** A cursor-paged list: its load error, its table and the page buttons. */
export function PagedTable<Row>({
  list,
  pager,
  ...table
}: {
  list: Loaded<RowsPage<Row>>;
  pager: ReturnType<typeof usePager>;
  loading: string;
  caption: string;
  head: string[];
  empty: string;
  row: (row: Row) => ComponentChildren;
}) {
  return (
    <>
      <ErrorBanner message={list.error} />
      <LoadedTable list={list} {...table} />
      <PagerControls pager={pager} nextCursor={list.data?.next_cursor} />
    </>
  );
}

/** Above a list section's forms: the result of its last action and the list's load error. */
export function CrudStatus({
  crud,
}: {
  crud: { action: { error: string | null; notice: string | null }; list: { error: string | null } };
}) {
  return (
    <>
      <ActionStatus action={crud.action} />
      <ErrorBanner message={crud.list.error} />
    </>
  );
}

/** A row's Edit and Delete buttons, labelled with the row's name; other actions go between. */
export function CrudRowActions<Row extends { id: string }>({
  crud,
  row,
  name,
  children,
}: {
  crud: CrudList<Row>;
  row: Row;
  name: string;
  children?: ComponentChildren;
}) {
  return (
    <td class="admin-row-actions">
      <button type="button" aria-label={`Edit ${name}`} onClick={() => crud.edit(row)}>
        Edit
      </button>
      {children}
      <button type="button" class="danger" aria-label={`Delete ${name}`} onClick={() => crud.remove(row)}>
        Delete
      </button>
    </td>
  );
}

/** One of several lists on a page: its heading and its "new" button. */
export function AdminSubsection({
  id,
  title,
  newLabel,
  onNew,
  children,
}: {
  id: string;
  title: string;
  newLabel: string;
  onNew: () => void;
  children: ComponentChildren;
}) {
  return (
    <section aria-labelledby={id}>
      <div class="admin-subhead">
        <h2 id={id}>{title}</h2>
        <button type="button" onClick={onNew}>
          {newLabel}
        </button>
      </div>
      {children}
    </section>
  );
}

/** The card of one row's details below a list, with its heading and Close. */
export function AdminDetail({
  id,
  title,
  onClose,
  children,
}: {
  id: string;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  return (
    <section class="card admin-detail" aria-labelledby={id}>
      <header class="admin-detail-head">
        <h2 id={id}>{title}</h2>
        <button type="button" class="link admin-close" onClick={onClose}>
          Close
        </button>
      </header>
      {children}
    </section>
  );
}

/** The page's primary "new" button of a list section. */
export function NewButton({ label, onClick }: { label: string; onClick: () => void }) {
  return (
    <button type="button" class="primary" onClick={onClick}>
      {label}
    </button>
  );
}
