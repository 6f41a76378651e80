// API tokens: list, create (the token is shown once), revoke.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Field, Loading, Page } from "../../ui/components";
import { formatShort } from "../../ui/format";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, AdminTable, Check, FormCard, OneTimeSecret, confirmed, useAction, useDirectory, type Schema } from "./kit";

type Scope = Schema<"ApiScope">;
type Token = Schema<"ApiTokenView">;

const SCOPES: Scope[] = ["tickets:read", "tickets:write", "admin:read", "admin:write", "webhooks:manage"];

function TokenForm({ directory, busy, onSubmit, onCancel }: {
  directory: ReturnType<typeof useDirectory>;
  busy: boolean;
  onSubmit: (body: Schema<"ApiTokenCreate">) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState("");
  const [userId, setUserId] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["tickets:read"]);
  const [expires, setExpires] = useState("");
  return (
    <FormCard
      title="New API token"
      submit="Create token"
      busy={busy}
      onSubmit={() =>
        onSubmit({
          name,
          acts_as_user_id: userId,
          scopes,
          expires_at: expires ? new Date(expires).toISOString() : null,
        })
      }
      onCancel={onCancel}
    >
      <Field label="Name">
        <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="Acts as" hint="the token sees what this user sees">
        <select required value={userId} onChange={(e) => setUserId(e.currentTarget.value)}>
          <option value="">Choose a user</option>
          {directory.users
            .filter((user) => user.is_active)
            .map((user) => (
              <option key={user.id} value={user.id}>
                {user.full_name} ({user.email})
              </option>
            ))}
        </select>
      </Field>
      <Field label="Expires" hint="empty: never">
        <input type="datetime-local" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
      </Field>
      <fieldset class="admin-flags">
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <Check
            key={scope}
            label={scope}
            checked={scopes.includes(scope)}
            onChange={(checked) => setScopes(checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))}
          />
        ))}
      </fieldset>
    </FormCard>
  );
}

export function ApiTokensSection() {
  const list = useLoad(() => api.GET("/admin/api-tokens"), []);
  const directory = useDirectory();
  const action = useAction();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Schema<"ApiTokenCreated"> | null>(null);
  const rows = list.data ?? [];

  function revoke(token: Token) {
    if (!confirmed(`Revoke the token ${token.name}? Systems using it are refused at once.`)) return;
    void action.run(
      () => api.DELETE("/admin/api-tokens/{token_id}", { params: { path: { token_id: token.id } } }),
      () => list.reload(),
      "Token revoked.",
    );
  }

  return (
    <Page
      title="API tokens"
      actions={
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New token
        </button>
      }
    >
      <ActionStatus action={action} />
      <ErrorBanner message={list.error} />
      <OneTimeSecret label={`Token ${created?.name ?? ""}`} value={created?.token} onDismiss={() => setCreated(null)} />
      {creating ? (
        <TokenForm
          directory={directory}
          busy={action.busy}
          onSubmit={(body) =>
            void action.run(
              () => api.POST("/admin/api-tokens", { body }),
              (token) => {
                setCreating(false);
                setCreated(token ?? null);
                list.reload();
              },
            )
          }
          onCancel={() => setCreating(false)}
        />
      ) : null}
      {list.loading && !list.data ? <Loading what="Loading tokens" /> : null}
      {list.data ? (
        <AdminTable
          caption="API tokens"
          head={["Name", "Prefix", "Acts as", "Scopes", "Last used", "Expires", "Actions"]}
          empty="No API tokens yet."
          count={rows.length}
        >
          {rows.map((row) => (
            <tr key={row.id}>
              <td>
                {row.name} {row.revoked_at ? <Badge tone="danger">revoked</Badge> : null}
              </td>
              <td>
                <code>{row.prefix}</code>
              </td>
              <td>{directory.userName(row.acts_as_user_id)}</td>
              <td>{row.scopes.join(", ")}</td>
              <td>{row.last_used_at ? formatShort(row.last_used_at) : "never"}</td>
              <td>{row.expires_at ? formatShort(row.expires_at) : "never"}</td>
              <td>
                {row.revoked_at ? null : (
                  <button type="button" class="danger" aria-label={`Revoke ${row.name}`} onClick={() => revoke(row)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
    </Page>
  );
}
