// Load data for a screen: the value, the error, and a reload. Reloads when `deps` change.
import { useCallback, useEffect, useState } from "preact/hooks";
import { problemText } from "../api/problems";

/** What a typed API call returns: data on success, error (problem details) otherwise. */
export interface ApiResult<T> {
  data?: T;
  error?: unknown;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: () => Promise<ApiResult<T>>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error: string | null; loading: boolean }>({
    error: null,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (result) => {
        if (!current) return;
        if (result.error !== undefined || result.data === undefined) {
          setState({ error: problemText(result.error), loading: false });
        } else {
          setState({ data: result.data, error: null, loading: false });
        }
      },
      (failure: unknown) => {
        if (current) setState({ error: String(failure), loading: false });
      },
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, generation]);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
