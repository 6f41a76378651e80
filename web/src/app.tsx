// The console's shell: the session (login screen until there is one), the top bar, and the
// screen for the current route.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api/client";
import { clearSession, currentUser, isAdmin, refreshToken, setCurrentUser, subscribe } from "./api/session";
import type { Me } from "./api/session";
import { type Route, href, useRoute } from "./router";
import { AdminScreen } from "./screens/admin/AdminScreen";
import { AnalyticsScreen } from "./screens/analytics/AnalyticsScreen";
import { InboxScreen } from "./screens/inbox/InboxScreen";
import { LoginScreen } from "./screens/login";
import { NotificationBell } from "./screens/notifications/NotificationBell";
import { NotificationsScreen } from "./screens/notifications/NotificationsScreen";
import { SettingsScreen } from "./screens/notifications/SettingsScreen";
import { ComposeScreen } from "./screens/ticket/ComposeScreen";
import { TicketScreen } from "./screens/ticket/TicketScreen";
import { ErrorBanner, Loading } from "./ui/components";

function useSession(): { user: Me | null; loggedIn: boolean } {
  const [, setTick] = useState(0);
  useEffect(() => subscribe(() => setTick((n) => n + 1)), []);
  return { user: currentUser(), loggedIn: refreshToken() !== null };
}

async function logout(): Promise<void> {
  const token = refreshToken();
  if (token) await api.POST("/auth/logout", { body: { refresh_token: token } });
  clearSession();
}

function screenFor(route: Route, user: Me) {
  switch (route.segments[0]) {
    case "tickets":
      return <TicketScreen route={route} />;
    case "compose":
      return <ComposeScreen route={route} />;
    case "notifications":
      return <NotificationsScreen route={route} />;
    case "settings":
      return <SettingsScreen route={route} />;
    case "analytics":
      return <AnalyticsScreen route={route} />;
    case "admin":
      return isAdmin(user) ? (
        <AdminScreen route={route} />
      ) : (
        <ErrorBanner message="Only a tenant's admins manage it." />
      );
    default:
      return <InboxScreen route={route} />;
  }
}

function TopBar({ user, route }: { user: Me; route: Route }) {
  const section = route.segments[0] ?? "inbox";
  const link = (path: string, label: string, name: string) => (
    <a href={href(path)} aria-current={section === name ? "page" : undefined}>
      {label}
    </a>
  );
  const canSend = (user.accounts ?? []).some((account) => account.can_send);
  return (
    <header class="topbar">
      <a class="brand" href={href("/inbox")}>
        postdesk
      </a>
      <nav aria-label="Main">
        {link("/inbox", "Inbox", "inbox")}
        {canSend ? link("/compose", "Compose", "compose") : null}
        {link("/analytics", "Analytics", "analytics")}
        {isAdmin(user) ? link("/admin", "Admin", "admin") : null}
      </nav>
      <div class="topbar-end">
        <NotificationBell />
        <a href={href("/settings")} title="Your settings">
          {user.full_name || user.email}
        </a>
        <button type="button" class="link" onClick={() => void logout()}>
          Log out
        </button>
      </div>
    </header>
  );
}

export function App() {
  const { user, loggedIn } = useSession();
  const route = useRoute();
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!loggedIn || user) return;
    setError(null);
    api.GET("/me").then(({ data, response }) => {
      if (data) setCurrentUser(data);
      else if (response.status === 401) clearSession();
      else setError(`The gateway did not answer who you are (HTTP ${response.status}).`);
    }, (failure: unknown) => setError(`The gateway is out of reach: ${String(failure)}`));
  }, [loggedIn, user]);

  if (!loggedIn) return <LoginScreen />;
  if (!user) return error ? <ErrorBanner message={error} /> : <Loading what="Opening your inbox" />;
  return (
    <div class="shell">
      <TopBar user={user} route={route} />
      <main class="content">{screenFor(route, user)}</main>
    </div>
  );
}
