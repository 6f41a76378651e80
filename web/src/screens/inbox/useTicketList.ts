// The inbox's tickets: the first page for the filters, "Load more" pages after it (keyset
// paging with the API's cursor), and a quiet refresh that keeps what is shown in place.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { type InboxFilters, ticketListQuery } from "./inboxQuery";

export type InboxTicket = components["schemas"]["InboxTicket"];

const PAGE_SIZE = 25;
const MAX_PAGE = 100;

export interface TicketList {
  tickets: InboxTicket[] | null;
  hasMore: boolean;
  error: string | null;
  loading: boolean;
  loadMore: () => void;
  refresh: () => void;
}

export function useTicketList(filters: InboxFilters): TicketList {
  const [tickets, setTickets] = useState<InboxTicket[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  // Answers to an older filter or refresh are dropped when a newer request was made.
  const generation = useRef(0);
  const shown = useRef(0);
  const key = JSON.stringify(filters);

  const fetchPage = useCallback(
    async (limit: number, cursor: string | null, append: boolean) => {
      const mine = ++generation.current;
      setLoading(true);
      const { data, error: failure } = await api.GET("/tickets", {
        params: { query: ticketListQuery(filters, limit, cursor) },
      });
      if (mine !== generation.current) return;
      setLoading(false);
      if (!data) {
        setError(problemText(failure, "The tickets did not load."));
        return;
      }
      setError(null);
      setTickets((previous) => {
        const next = append && previous ? [...previous, ...data.items] : data.items;
        shown.current = next.length;
        return next;
      });
      setNextCursor(data.next_cursor ?? null);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );

  useEffect(() => {
    setTickets(null);
    shown.current = 0;
    void fetchPage(PAGE_SIZE, null, false);
  }, [fetchPage]);

  const loadMore = useCallback(() => {
    if (nextCursor) void fetchPage(PAGE_SIZE, nextCursor, true);
  }, [fetchPage, nextCursor]);

  // A refresh re-reads as many tickets as are shown (one request, up to the API's maximum),
  // so new activity appears without losing the pages already loaded.
  const refresh = useCallback(() => {
    void fetchPage(Math.min(Math.max(shown.current, PAGE_SIZE), MAX_PAGE), null, false);
  }, [fetchPage]);

  return { tickets, hasMore: nextCursor !== null, error, loading, loadMore, refresh };
}
