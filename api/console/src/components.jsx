// Pieces every page uses: the page heading (focused on arrival, so screen readers announce
// the new page), messages, status badges.
import { useEffect, useRef, useState } from 'preact/hooks';

import { get, withQuery } from './api.js';
import { statusLabel } from './format.js';

export function Page({ title, children, actions }) {
  const heading = useRef(null);
  useEffect(() => {
    document.title = `${title} · longrun console`;
    heading.current?.focus();
  }, [title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1} ref={heading}>
          {title}
        </h1>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** A message of the API (or ours): errors are alerts, other notices are polite. */
export function Message({ error, notice, onDismiss }) {
  if (!error && !notice) return null;
  const text = error ? describe(error) : notice;
  return (
    <div class={error ? 'message error' : 'message notice'} role={error ? 'alert' : 'status'}>
      <span>{text}</span>
      {onDismiss && (
        <button type="button" class="link" onClick={onDismiss} aria-label="Dismiss message">
          ×
        </button>
      )}
    </div>
  );
}

/** What the API said, as a sentence for people, with its code. */
export function describe(error) {
  if (!error) return '';
  if (error.status === 403) return `Not allowed: ${error.message}`;
  if (error.status === 429 && error.retryAfter) return `${error.message} (retry in ${error.retryAfter} s)`;
  return error.message;
}

export function StatusBadge({ status }) {
  return <span class={`badge status-${status}`}>{statusLabel(status)}</span>;
}

export function Loading({ what }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** The first page (100 rows) of a list route: its `field`, the API's error, and a reload. */
export function useList(path, field) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const reload = () =>
    get(withQuery(path, { limit: 100 }))
      .then((page) => setItems(page[field]))
      .catch(setError);
  useEffect(() => {
    reload();
  }, [path]);
  return { items, error, setError, reload };
}

/**
 * A table of items with a row each (`children`): a caption for screen readers, a header of
 * `columns`, and a last column of actions on the item.
 */
export function ItemTable({ caption, columns, children }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** Runs `action` (an async change), clearing the error first and showing its failure. */
export async function attempt(setError, action) {
  setError(null);
  try {
    await action();
  } catch (e) {
    setError(e);
  }
}
