import { useState } from 'preact/hooks';
import { errorText } from '../api/error-text.js';

/** A page as the list routes answer it: items, and a cursor while there are more. */
export interface ListPage<T> {
  items: T[];
  nextCursor?: string | undefined;
}

export interface PagedList<T> {
  items: T[];
  /** For a change made in place (a rule enabled) without reloading the list. */
  setItems: (update: (items: T[]) => T[]) => void;
  /** Set while the server has more after what is shown. */
  cursor: string | undefined;
  loading: boolean;
  error: string | null;
  /** The first page again, or (`more`) the next one after what is shown. */
  load: (more?: boolean) => Promise<void>;
}

/**
 * A list read in cursor pages: every list screen loads, appends, counts and fails the same way, so a
 * fix to one (a stale cursor, a lost error) is a fix to all. `onPage` sees each page as it comes.
 */
export function usePagedList<T>(fetchPage: (cursor: string | undefined) => Promise<ListPage<T>>, onPage?: (items: T[]) => void): PagedList<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  const load = async (more = false) => {
    setLoading(true);
    setError(null);
    try {
      const page = await fetchPage(more ? cursor : undefined);
      setItems((prev) => (more ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
      onPage?.(page.items);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  };
  return { items, setItems, cursor, loading, error, load };
}

/** The button under a list that reads its next page; nothing when there is none. */
export function LoadMoreButton({ list, label, small = false }: { list: Pick<PagedList<unknown>, 'cursor' | 'loading' | 'load'>; label: string; small?: boolean }) {
  if (!list.cursor) return null;
  return (
    <button type="button" class={`button button--secondary${small ? ' button--small' : ''}`} onClick={() => void list.load(true)} disabled={list.loading}>
      {list.loading ? 'Loading…' : label}
    </button>
  );
}
