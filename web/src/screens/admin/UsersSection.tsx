// Users: search and filter, page through, create, and open one to manage it.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Field, Loading, Notice, Page } from "../../ui/components";
import { formatShort } from "../../ui/format";
import { useLoad } from "../../ui/useLoad";
import { AdminTable, DirectoryError, OneTimeSecret, PagerControls, orNull, useDirectory, usePager, type Schema } from "./kit";
import { UserDetail } from "./UserDetail";
import { UserCreateForm } from "./UserForms";

type ActiveFilter = "" | "true" | "false";

export function UsersSection() {
  const directory = useDirectory();
  const pager = usePager();
  const [search, setSearch] = useState("");
  const [active, setActive] = useState<ActiveFilter>("true");
  const [departmentId, setDepartmentId] = useState("");
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Schema<"UserCreated"> | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const users = useLoad(
    () =>
      api.GET("/admin/users", {
        params: {
          query: {
            search: orNull(search.trim()),
            active: active === "" ? null : active === "true",
            department_id: orNull(departmentId),
            cursor: pager.cursor ?? null,
            limit: 50,
          },
        },
      }),
    [search, active, departmentId, pager.cursor],
  );
  const rows = users.data?.items ?? [];
  const selectedUser = rows.find((user) => user.id === selected);
  const filter = <T,>(set: (value: T) => void) => (value: T) => {
    set(value);
    pager.reset();
  };

  return (
    <Page
      title="Users"
      actions={
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New user
        </button>
      }
    >
      <DirectoryError directory={directory} />
      <Notice message={notice} />
      {created ? (
        <p class="banner notice" role="status">
          Created {created.full_name} ({created.email}).
        </p>
      ) : null}
      <OneTimeSecret
        label={`Initial password of ${created?.email ?? ""}`}
        value={created?.initial_password}
        onDismiss={() => setCreated(null)}
      />
      {creating ? (
        <UserCreateForm
          directory={directory}
          onCreated={(user) => {
            setCreating(false);
            setCreated(user);
            setSelected(user.id);
            users.reload();
            directory.reload();
          }}
          onCancel={() => setCreating(false)}
        />
      ) : null}
      <div class="admin-filters">
        <Field label="Search users">
          <input type="search" value={search} onInput={(e) => filter(setSearch)(e.currentTarget.value)} />
        </Field>
        <Field label="State">
          <select value={active} onChange={(e) => filter(setActive)(e.currentTarget.value as ActiveFilter)}>
            <option value="true">Active</option>
            <option value="false">Deactivated</option>
            <option value="">All</option>
          </select>
        </Field>
        <Field label="Department filter">
          <select value={departmentId} onChange={(e) => filter(setDepartmentId)(e.currentTarget.value)}>
            <option value="">Any department</option>
            {directory.departments.map((department) => (
              <option key={department.id} value={department.id}>
                {department.name}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <ErrorBanner message={users.error} />
      {users.loading && !users.data ? <Loading what="Loading users" /> : null}
      {users.data ? (
        <AdminTable
          caption="Users"
          head={["Name", "Login", "Role", "Department", "Created", ""]}
          empty="No users match."
          count={rows.length}
        >
          {rows.map((user) => (
            <tr key={user.id} aria-selected={user.id === selected}>
              <td>
                {user.full_name} {user.is_active ? null : <Badge tone="danger">deactivated</Badge>}
              </td>
              <td>{user.email}</td>
              <td>{user.role}</td>
              <td>{directory.departmentName(user.department_id)}</td>
              <td>{formatShort(user.created_at)}</td>
              <td>
                <button type="button" aria-label={`Manage ${user.full_name}`} onClick={() => setSelected(user.id)}>
                  Manage
                </button>
              </td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
      <PagerControls pager={pager} nextCursor={users.data?.next_cursor} />
      {selectedUser ? (
        <UserDetail
          key={selectedUser.id}
          user={selectedUser}
          directory={directory}
          onChanged={(message) => {
            setNotice(message ?? null);
            users.reload();
            directory.reload();
          }}
          onClose={() => setSelected(null)}
        />
      ) : null}
    </Page>
  );
}
