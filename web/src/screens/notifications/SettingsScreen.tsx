// The user's own settings: who they are and where they work, their password, and what
// they hear about and where.
import { currentUser } from "../../api/session";
import type { Route } from "../../router";
import { Page } from "../../ui/components";
import { PasswordForm } from "./PasswordForm";
import { PreferencesForm } from "./PreferencesForm";
import "./notifications.css";

const ROLE_LABELS: Record<string, string> = {
  admin: "Tenant admin",
  member: "Member",
};

function Profile() {
  const user = currentUser();
  if (!user) return null;
  return (
    <section class="card" aria-labelledby="profile-heading">
      <h2 id="profile-heading">Profile</h2>
      <dl>
        <dt>Name</dt>
        <dd>{user.full_name || "–"}</dd>
        <dt>Login</dt>
        <dd>{user.email}</dd>
        <dt>Role</dt>
        <dd>{ROLE_LABELS[user.role] ?? user.role}</dd>
      </dl>
      <h3>Mailboxes</h3>
      {(user.accounts ?? []).length === 0 ? (
        <p class="muted">No mailboxes are assigned to you.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Mailbox</th>
              <th scope="col">Your role</th>
            </tr>
          </thead>
          <tbody>
            {(user.accounts ?? []).map((account) => (
              <tr key={account.account_id}>
                <td>
                  {account.display_name ? `${account.display_name} <${account.address}>` : account.address}
                </td>
                <td>{account.role ?? (user.role === "admin" ? "admin" : "–")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function SettingsScreen({ route: _route }: { route: Route }) {
  return (
    <Page title="Settings">
      <div class="settings">
        <Profile />
        <PasswordForm />
        <PreferencesForm />
      </div>
    </Page>
  );
}
