// Users: search and filter, page through, create, and open one to manage it.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, Field, Notice, Page } from "../../ui/components";
import { formatShort } from "../../ui/format";
import { useLoad } from "../../ui/useLoad";
import { DepartmentSelect } from "./IdSelect";
import { DirectoryError, OneTimeSecret, orNull, useDirectory, usePager, type Schema } from "./kit";
import { NewButton, PagedTable } from "./listViews";
import { UserDetail } from "./UserDetail";
import { UserCreateForm } from "./UserForms";

type ActiveFilter = "" | "true" | "false";
type User = Schema<"UserView">;

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
    <Page title="Users" actions={<NewButton label="New user" onClick={() => setCreating(true)} />}>
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
        <DepartmentSelect
          label="Department filter"
          none="Any department"
          options={directory.departments}
          value={departmentId}
          onChange={filter(setDepartmentId)}
        />
      </div>
      <PagedTable
        list={users}
        pager={pager}
        loading="Loading users"
        caption="Users"
        head={["Name", "Login", "Role", "Department", "Created", ""]}
        empty="No users match."
        row={(user: User) => (
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
        )}
      />
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
