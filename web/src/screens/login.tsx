import { useState } from "preact/hooks";
import { api } from "../api/client";
import { problemText } from "../api/problems";
import { storeTokens } from "../api/session";
import { ErrorBanner, Field } from "../ui/components";

export function LoginScreen() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const { data, error: failure, response } = await api.POST("/auth/login", {
      body: { email, password },
    });
    setBusy(false);
    if (data) {
      storeTokens(data);
      return;
    }
    setError(
      response.status === 401
        ? "Wrong email or password (or the account is locked for a while)."
        : problemText(failure, "Could not log in."),
    );
  }

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">postdesk</h1>
        <p class="muted">Log in to answer your team's mail.</p>
        <ErrorBanner message={error} />
        <Field label="Email">
          <input
            type="email"
            name="email"
            autocomplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </Field>
        <Field label="Password">
          <input
            type="password"
            name="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
