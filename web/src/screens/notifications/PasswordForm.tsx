// Change one's own password. The gateway answers with new session tokens (its other
// sessions end), which replace this page's.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import { storeTokens } from "../../api/session";
import { ErrorBanner, Field, Notice } from "../../ui/components";

export function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setNotice(null);
    if (next !== repeat) {
      setError("The new password and its repetition differ.");
      return;
    }
    setBusy(true);
    const { data, error: failure } = await api.POST("/me/password", {
      body: { current_password: current, new_password: next },
    });
    setBusy(false);
    if (!data) {
      setError(problemText(failure, "The password was not changed."));
      return;
    }
    storeTokens(data);
    setError(null);
    setCurrent("");
    setNext("");
    setRepeat("");
    setNotice("Your password is changed.");
  };

  return (
    <section class="card" aria-labelledby="password-heading">
      <h2 id="password-heading">Change password</h2>
      <form onSubmit={(e) => void submit(e)}>
        <Field label="Current password">
          <input
            type="password"
            autocomplete="current-password"
            required
            value={current}
            onInput={(e) => setCurrent(e.currentTarget.value)}
          />
        </Field>
        <Field label="New password">
          <input
            type="password"
            autocomplete="new-password"
            required
            value={next}
            onInput={(e) => setNext(e.currentTarget.value)}
          />
        </Field>
        <Field label="Repeat new password">
          <input
            type="password"
            autocomplete="new-password"
            required
            value={repeat}
            onInput={(e) => setRepeat(e.currentTarget.value)}
          />
        </Field>
        <ErrorBanner message={error} />
        <Notice message={notice} />
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </section>
  );
}
