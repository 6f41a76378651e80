// What the user hears about (each kind of notification) and where (each channel).
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import { ErrorBanner, Loading, Notice } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { kindLabel } from "./NotificationItem";

type Preferences = Record<string, Record<string, boolean>>;

const CHANNEL_LABELS: Record<string, string> = { in_app: "In the console", email: "By email" };
const channelLabel = (channel: string): string => CHANNEL_LABELS[channel] ?? channel;

export function PreferencesForm() {
  const loaded = useLoad(() => api.GET("/me/notification-preferences"), []);
  const [wanted, setWanted] = useState<Preferences | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (loaded.data) setWanted(loaded.data.preferences);
  }, [loaded.data]);

  const kinds = Object.keys(wanted ?? {});
  const channels = [...new Set(kinds.flatMap((kind) => Object.keys(wanted?.[kind] ?? {})))];

  const toggle = (kind: string, channel: string, on: boolean) => {
    setNotice(null);
    setWanted((previous) =>
      previous && { ...previous, [kind]: { ...previous[kind], [channel]: on } },
    );
  };

  const save = async (event: Event) => {
    event.preventDefault();
    if (!wanted) return;
    setBusy(true);
    const { data, error: failure } = await api.PUT("/me/notification-preferences", {
      body: { preferences: wanted },
    });
    setBusy(false);
    if (!data) {
      setError(problemText(failure, "The preferences were not saved."));
      return;
    }
    setError(null);
    setWanted(data.preferences);
    setNotice("Your notification preferences are saved.");
  };

  return (
    <section class="card" aria-labelledby="preferences-heading">
      <h2 id="preferences-heading">Notifications</h2>
      <ErrorBanner message={loaded.error} />
      {!wanted ? (
        loaded.error ? null : <Loading what="Loading your preferences" />
      ) : (
        <form onSubmit={(e) => void save(e)}>
          <table class="preferences">
            <thead>
              <tr>
                <th scope="col">Notify me of</th>
                {channels.map((channel) => (
                  <th scope="col" key={channel}>
                    {channelLabel(channel)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {kinds.map((kind) => (
                <tr key={kind}>
                  <th scope="row">{kindLabel(kind)}</th>
                  {channels.map((channel) => (
                    <td key={channel}>
                      {channel in (wanted[kind] ?? {}) ? (
                        <input
                          type="checkbox"
                          aria-label={`${kindLabel(kind)}: ${channelLabel(channel).toLowerCase()}`}
                          checked={wanted[kind]?.[channel] ?? false}
                          onChange={(e) => toggle(kind, channel, e.currentTarget.checked)}
                        />
                      ) : null}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <ErrorBanner message={error} />
          <Notice message={notice} />
          <div class="form-actions">
            <button type="submit" class="primary" disabled={busy}>
              Save preferences
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
